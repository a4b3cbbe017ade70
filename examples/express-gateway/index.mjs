// Run the gateway and its simulated upstream: `node index.mjs`, then
// curl localhost:3000/api/products and curl -X POST localhost:3000/__upstream/failing

import { createUpstream } from '@breakwater/example-upstream';
import express from 'express';
import { createGateway } from './gateway.mjs';

const upstream = createUpstream();
const upstreamPort = await upstream.listen();
const app = createGateway({ upstreamUrl: `http://127.0.0.1:${upstreamPort}`, logger: console });
app.post('/__upstream/:mode', express.json(), (req, res) => {
  upstream.setMode(req.params.mode);
  res.json({ mode: upstream.mode });
});
const port = Number(process.env.PORT ?? 3000);
app.listen(port, '127.0.0.1', () => console.log(`gateway on http://127.0.0.1:${port} → upstream :${upstreamPort}`));
