// The JWKS answer is read with the cap of every outside answer: an oversized key set is a failed
// fetch (the keys held are kept), never a memory spike; chunked or declared, against a real server.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, MAX_ANSWER_BYTES } from '@fortellis-admin/service-kit';
import { JwksKeyStore } from '../src/data-access/jwks-key-store.ts';

let server: Server;
let baseUrl: string;
let goodJwks: string;

beforeAll(async () => {
  const { publicKey } = await generateKeyPair('RS256');
  goodJwks = JSON.stringify({
    keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' }],
  });
  // The same valid key set, padded past the cap with a member the reader must never reach.
  const padded = JSON.stringify({
    keys: JSON.parse(goodJwks).keys,
    padding: 'x'.repeat(MAX_ANSWER_BYTES + 1024),
  });
  server = createServer((req, res) => {
    if (req.url === '/good') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(goodJwks);
    } else if (req.url === '/declared') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(padded);
    } else {
      // Chunked: no content-length, so only counting the bytes as they come can stop it.
      res.writeHead(200, { 'content-type': 'application/json' });
      for (let i = 0; i < padded.length; i += 8192) res.write(padded.slice(i, i + 8192));
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const store = (path: string) =>
  new JwksKeyStore({ url: `${baseUrl}${path}`, logger: createLogger('ingress', 'silent') });

describe('JWKS answer size', () => {
  it('loads a key set within the cap', async () => {
    const keys = store('/good');
    expect(await keys.refresh()).toBe(true);
    expect(keys.loaded).toBe(true);
  });

  it.each(['/declared', '/chunked'])(
    'refuses a key set over the cap (%s) as a failed fetch',
    async (path) => {
      const keys = store(path);
      expect(await keys.refresh()).toBe(false);
      expect(keys.loaded).toBe(false);
    },
  );
});
