// Run the Fastify gateway and its simulated upstream: `node index.mjs`, then curl localhost:3002/api/products
import { createUpstream } from '@breakwater/example-upstream';
import { createGateway } from './gateway.mjs';

const upstream = createUpstream();
const upstreamPort = await upstream.listen();
const app = await createGateway({ upstreamUrl: `http://127.0.0.1:${upstreamPort}`, logger: true });
await app.listen({ port: Number(process.env.PORT ?? 3002), host: '127.0.0.1' });
