// Run the Fastify gateway and its simulated upstream: `node index.mjs` (PORT, default 3002), then
// curl localhost:3002/api/products and curl -X POST localhost:3002/__upstream/failing
import { createUpstream } from '@breakwater/example-upstream';
import { createGateway } from './gateway.mjs';

const upstream = createUpstream();
const upstreamPort = await upstream.listen();
const app = await createGateway({ upstreamUrl: `http://127.0.0.1:${upstreamPort}`, logger: true, simulator: upstream });
await app.listen({ port: Number(process.env.PORT ?? 3002), host: '127.0.0.1' });
