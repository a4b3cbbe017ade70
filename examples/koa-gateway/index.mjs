// Run the Koa gateway and its simulated upstream: `node index.mjs`, then curl localhost:3001/api/products
import { createUpstream } from '@breakwater/example-upstream';
import { createGateway } from './gateway.mjs';

const upstream = createUpstream();
const upstreamPort = await upstream.listen();
const app = createGateway({ upstreamUrl: `http://127.0.0.1:${upstreamPort}`, logger: console });
const port = Number(process.env.PORT ?? 3001);
app.listen(port, '127.0.0.1', () => console.log(`koa gateway on http://127.0.0.1:${port} → upstream :${upstreamPort}`));
