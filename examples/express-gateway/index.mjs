// Run the gateway and its simulated upstream: `node index.mjs` (PORT, default 3000), then
// curl localhost:3000/api/products and curl -X POST localhost:3000/__upstream/failing

import { createUpstream } from '@breakwater/example-upstream';
import { createGateway } from './gateway.mjs';

const upstream = createUpstream();
const upstreamPort = await upstream.listen();
const app = createGateway({ upstreamUrl: `http://127.0.0.1:${upstreamPort}`, logger: console, simulator: upstream });
const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () =>
  console.log(`express gateway on http://127.0.0.1:${server.address().port} → upstream :${upstreamPort}`),
);
