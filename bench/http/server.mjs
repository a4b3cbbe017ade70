// One HTTP server for the HTTP benchmark: `node server.mjs <scenario>` listens on 127.0.0.1 on
// an ephemeral port and prints `PORT <n>` when ready. Each scenario serves GET /hello -> JSON, with
// the same framework settings in every scenario of a framework: only the breaker differs. A `cpu`
// line on stdin is answered with `CPU <user µs> <system µs>` (process.cpuUsage()), so that the
// benchmark can divide the server's own CPU time by the requests it served.
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';

const require = createRequire(import.meta.url);
const scenario = process.argv[2];
const payload = { hello: 'world' };

function ready(server) {
  const { port } = server.address();
  process.stdout.write(`PORT ${port}\n`);
}

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line !== 'cpu') return;
  const { user, system } = process.cpuUsage();
  process.stdout.write(`CPU ${user} ${system}\n`);
});

/**
 * Responses to watch, by the `http.server.response.finish` diagnostics channel: one subscriber
 * for the process reads the status of each watched response when it finishes.
 */
function finishChannel() {
  const channels = require('node:diagnostics_channel');
  const watched = new WeakMap();
  let sink = 0;
  channels.subscribe('http.server.response.finish', ({ response }) => {
    if (watched.get(response) !== undefined) {
      watched.delete(response);
      sink += response.statusCode;
    }
  });
  process.on('exit', () => sink);
  return watched;
}

function opossumMiddleware() {
  const CircuitBreaker = require('opossum');
  const onFinished = require('on-finished');
  // The usual way to put opossum in front of an Express route: fire() a promise that settles
  // when the response finishes, and answer 503 when it rejects because the circuit is open.
  const breaker = new CircuitBreaker(
    (_req, res, next) =>
      new Promise((resolve, reject) => {
        onFinished(res, () => (res.statusCode >= 500 ? reject(new Error(String(res.statusCode))) : resolve()));
        next();
      }),
    { timeout: 10_000, errorThresholdPercentage: 50, resetTimeout: 30_000 },
  );
  return (req, res, next) => {
    breaker.fire(req, res, next).catch(() => {
      if (!res.headersSent) res.status(503).json({ error: 'Service Unavailable' });
    });
  };
}

async function express() {
  const express = require('express');
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  const handler = (_req, res) => res.json(payload);
  if (scenario === 'express-breakwater') {
    const { circuitBreaker } = await import('@breakwater/express');
    app.get('/hello', circuitBreaker({ name: 'hello' }), handler);
  } else if (scenario === 'express-passthrough') {
    app.get('/hello', (_req, _res, next) => next(), handler);
  } else if (scenario === 'express-reads') {
    // The same listener, reading the two properties a breaker needs when the response closes.
    let sink = 0;
    app.get(
      '/hello',
      (_req, res, next) => {
        res.on('close', () => {
          if (res.writableEnded) sink += res.statusCode;
        });
        next();
      },
      handler,
    );
    process.on('exit', () => sink);
  } else if (scenario === 'express-listener') {
    // What any middleware that watches the response pays on Express: one `close` listener.
    app.get(
      '/hello',
      (_req, res, next) => {
        res.on('close', () => {});
        next();
      },
      handler,
    );
  } else if (scenario === 'express-channel') {
    // The same reads, learning that the response finished from Node's diagnostics channel instead
    // of a listener on the response: one subscriber for the process, a WeakMap entry per response.
    const watched = finishChannel();
    app.get(
      '/hello',
      (_req, res, next) => {
        watched.set(res, 1);
        next();
      },
      handler,
    );
  } else if (scenario === 'express-opossum') {
    app.get('/hello', opossumMiddleware(), handler);
  } else {
    app.get('/hello', handler);
  }
  const server = app.listen(0, '127.0.0.1', () => ready(server));
}

async function koa() {
  const Koa = require('koa');
  const app = new Koa();
  // autocannon drops its connections at the end of each run; Koa would log every EPIPE.
  app.silent = true;
  const handler = async (ctx) => {
    if (ctx.path === '/hello') ctx.body = payload;
  };
  if (scenario === 'koa-breakwater') {
    const { circuitBreaker } = await import('@breakwater/koa');
    app.use(circuitBreaker({ name: 'hello' }));
  } else if (scenario === 'koa-passthrough') {
    app.use((_ctx, next) => next());
  } else if (scenario === 'koa-listener') {
    app.use((ctx, next) => {
      ctx.res.on('close', () => {});
      return next();
    });
  } else if (scenario === 'koa-onfinished') {
    const onFinished = require('on-finished');
    app.use((ctx, next) => {
      onFinished(ctx.res, () => {});
      return next();
    });
  } else if (scenario === 'koa-channel') {
    const watched = finishChannel();
    app.use((ctx, next) => {
      watched.set(ctx.res, 1);
      return next();
    });
  } else if (scenario === 'koa-queue') {
    app.use((ctx, next) => {
      ctx.res.__onFinished.queue.push(() => {});
      return next();
    });
  }
  app.use(handler);
  const server = app.listen(0, '127.0.0.1', () => ready(server));
}

async function fastify() {
  const Fastify = require('fastify');
  const app = Fastify({ logger: false });
  if (scenario === 'fastify-breakwater') {
    const { breakwater } = await import('@breakwater/fastify');
    await app.register(breakwater, {});
    app.get('/hello', async () => payload);
  } else if (scenario === 'fastify-hook') {
    app.addHook('onRequest', (_request, _reply, next) => next());
    app.get('/hello', async () => payload);
  } else if (scenario === 'fastify-wrapper') {
    // The floor of Breakwater's way in on Fastify: an onRoute hook that wraps each route's handler
    // in a function that only calls it.
    app.addHook('onRoute', (route) => {
      const handler = route.handler;
      route.handler = function wrapped(request, reply) {
        return handler.call(this, request, reply);
      };
    });
    app.get('/hello', async () => payload);
  } else if (scenario === 'fastify-listener') {
    app.addHook('onRequest', (_request, reply, next) => {
      reply.raw.on('close', () => {});
      next();
    });
    app.get('/hello', async () => payload);
  } else if (scenario === 'fastify-channel') {
    const watched = finishChannel();
    app.addHook('onRequest', (_request, reply, next) => {
      watched.set(reply.raw, 1);
      next();
    });
    app.get('/hello', async () => payload);
  } else if (scenario === 'fastify-watch-channel' || scenario === 'fastify-watch-close') {
    // Breakwater's way in on Fastify, cut down to core's public parts (a handler wrapper that
    // admits through a gate, then watches the response), to time one choice: counting the response
    // from the finish channel (what the plugin does) or from a `close` listener on it.
    const { HttpGuard, Refusal, countWhenFinished, settleOnClose } = await import('@breakwater/core');
    const guard = new HttpGuard({});
    const byChannel = scenario === 'fastify-watch-channel';
    app.addHook('onRoute', (route) => {
      const gate = guard.gate(`${route.method} ${route.url}`);
      const handler = route.handler;
      route.handler = function guarded(request, reply) {
        const call = gate.admit(request);
        if (call instanceof Refusal) return reply.code(503).send({ error: 'open' });
        const raw = reply.raw;
        if (byChannel) countWhenFinished(raw, call, raw.socket);
        else settleOnClose(raw, call);
        return handler.call(this, request, reply);
      };
    });
    app.get('/hello', async () => payload);
  } else if (scenario === 'fastify-circuit-breaker') {
    await app.register(require('@fastify/circuit-breaker'));
    app.after(() => {
      app.get('/hello', { preHandler: app.circuitBreaker() }, async () => payload);
    });
  } else {
    app.get('/hello', async () => payload);
  }
  await app.listen({ port: 0, host: '127.0.0.1' });
  ready(app.server);
}

const framework = scenario.split('-')[0];
await { express, koa, fastify }[framework]();
