// The ceiling for the ingress benchmark: a bare Fastify POST route on the same machine that parses
// the JSON body and answers a links document, with nothing else (no auth, no validation, no Redis).
import Fastify from 'fastify';

const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
app.post('/activate', async (request) => {
  const body = request.body as { connectionId?: string };
  return { links: [{ href: `/deactivate/${body.connectionId ?? ''}`, rel: 'deactivate' }] };
});
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
process.stdout.write('"msg":"bare started"\n');
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
