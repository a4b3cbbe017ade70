import { createServer } from 'node:http';

/**
 * A simulated upstream ("the products service") whose health you switch at run time:
 * `healthy`, `failing` (every call 500), `slow` (answers after 1.5 s) or `flaky` (every other call 500).
 * Each example gateway given it as `simulator` switches it with `POST /__upstream/:mode`, and
 * answers an unknown mode with a 400 (see `switchAnswer`).
 */
export const MODES = ['healthy', 'failing', 'slow', 'flaky'];

/**
 * Switches `simulator` to `mode` and returns what a gateway's `POST /__upstream/:mode` answers:
 * `{ status: 200, body: { mode } }`, or a 400 naming the modes when `mode` is not one of them.
 */
export function switchAnswer(simulator, mode) {
  if (!MODES.includes(mode)) {
    return { status: 400, body: { error: `unknown mode ${JSON.stringify(mode)}`, modes: MODES } };
  }
  simulator.setMode(mode);
  return { status: 200, body: { mode: simulator.mode } };
}

export function createUpstream() {
  let mode = 'healthy';
  let calls = 0;
  const server = createServer((req, res) => {
    calls++;
    const fail = mode === 'failing' || (mode === 'flaky' && calls % 2 === 0);
    const send = () => {
      if (fail) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'database connection lost', stack: 'at Pool.query (db.js:42)' }));
        return;
      }
      const url = new URL(req.url, 'http://upstream');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          page: Number(url.searchParams.get('page') ?? 1),
          products: ['kettle', 'teapot', 'mug'],
          servedAt: Date.now(),
        }),
      );
    };
    if (mode === 'slow') setTimeout(send, 1_500);
    else send();
  });
  return {
    server,
    get calls() {
      return calls;
    },
    get mode() {
      return mode;
    },
    setMode(next) {
      mode = next;
    },
    listen: (port = 0) =>
      new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server.address().port))),
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
