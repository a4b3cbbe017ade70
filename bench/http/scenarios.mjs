// What both HTTP benchmarks (bench:http, bench:http:instructions) share: their command-line
// options, and the scenarios of bench/http/server.mjs they compare, by framework.
import { fileURLToPath } from 'node:url';

/** `--name=value` and `--flag` (as 'true') options. */
export const args = new Map(process.argv.slice(2).map((a) => [...a.replace(/^--/, '').split('='), 'true'].slice(0, 2)));

/** The scenarios compared per framework; the first is bare. */
export const groups = {
  express: ['express-bare', 'express-breakwater', 'express-opossum'],
  koa: ['koa-bare', 'koa-breakwater'],
  fastify: ['fastify-bare', 'fastify-breakwater', 'fastify-circuit-breaker'],
};

/** The peer Breakwater is compared with, per framework. */
export const peers = { express: 'express-opossum', fastify: 'fastify-circuit-breaker' };

export const serverPath = fileURLToPath(new URL('./server.mjs', import.meta.url));

/**
 * The frameworks `--only` picks (all by default), each with its scenarios, the `--extra`
 * diagnostic ones of that framework, and `also(framework)`'s.
 */
export function selectedGroups(also = () => []) {
  const only = args.get('only');
  const extra = args.get('extra')?.split(',') ?? [];
  return Object.entries(groups)
    .filter(([name]) => !only || only.split(',').includes(name))
    .map(([name, scenarios]) => [
      name,
      [...scenarios, ...extra.filter((scenario) => scenario.startsWith(`${name}-`)), ...also(name)],
    ]);
}

/** Whether this run covers every framework and nothing else, so that it may replace the recorded results. */
export const fullRun = args.get('only') === undefined && args.get('extra') === undefined;
