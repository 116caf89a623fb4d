// The client-credentials token client against a real HTTP token endpoint on loopback: the form it
// sends (a scope only when one is configured), and the cache.
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientCredentialsTokenClient } from '@fortellis-admin/service-kit';

let server: Server | undefined;
afterEach(async () => {
  server?.close();
  if (server !== undefined) await once(server, 'close');
  server = undefined;
});

async function tokenEndpoint(): Promise<{ url: string; forms: URLSearchParams[] }> {
  const forms: URLSearchParams[] = [];
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      forms.push(new URLSearchParams(body));
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ access_token: `t${forms.length}`, expires_in: 3600 }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { url: `http://127.0.0.1:${address.port}/token`, forms };
}

describe('ClientCredentialsTokenClient', () => {
  it('sends no scope unless one is configured (anonymous is Fortellis-only)', async () => {
    const endpoint = await tokenEndpoint();
    const options = {
      tokenUrl: endpoint.url,
      clientId: 'id',
      clientSecret: 'secret',
      timeoutMs: 2000,
    };
    await new ClientCredentialsTokenClient(options).token();
    await new ClientCredentialsTokenClient({ ...options, scope: 'anonymous' }).token();
    expect(endpoint.forms.map((form) => Object.fromEntries(form))).toEqual([
      { grant_type: 'client_credentials' },
      { grant_type: 'client_credentials', scope: 'anonymous' },
    ]);
  });

  it('keeps a token until it is refused', async () => {
    const endpoint = await tokenEndpoint();
    const client = new ClientCredentialsTokenClient({
      tokenUrl: endpoint.url,
      clientId: 'id',
      clientSecret: 'secret',
      timeoutMs: 2000,
    });
    expect(await client.token()).toBe('t1');
    expect(await client.token()).toBe('t1');
    client.invalidate('t1');
    expect(await client.token()).toBe('t2');
    expect(endpoint.forms).toHaveLength(2);
  });
});
