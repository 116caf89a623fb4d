// Toxiproxy between a client and a real redis-server does the four faults of the fault suite:
// latency with jitter, a partition that holds (not drops) traffic, resets, and a slow close.
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
// Straight from the modules (not index.ts), so the test loads none of the services' libraries.
import { startLocalRedis, type Endpoint } from '../src/infrastructure.ts';
import { startToxiproxy, type FaultProxy, type Toxiproxy } from '../src/toxiproxy.ts';

let redis: Endpoint;
let direct: Redis;
let toxiproxy: Toxiproxy;
let proxy: FaultProxy;

beforeAll(async () => {
  [redis, toxiproxy] = await Promise.all([startLocalRedis({ durable: false }), startToxiproxy()]);
  direct = new Redis(redis.url);
  proxy = await toxiproxy.proxy('redis', new URL(redis.url).host);
}, 30_000);
afterAll(async () => {
  direct?.disconnect();
  await toxiproxy?.stop();
  await redis?.stop();
});

/** A raw connection through the proxy, with everything it receives and how it ended. */
async function rawClient(): Promise<{
  socket: Socket;
  received: () => string;
  ended: Promise<string>;
}> {
  const socket = connect({ host: '127.0.0.1', port: proxy.port });
  await once(socket, 'connect');
  let data = '';
  socket.on('data', (chunk: Buffer) => (data += chunk.toString('utf8')));
  const ended = new Promise<string>((resolve) => {
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    socket.once('close', () => resolve('close'));
  });
  return { socket, received: () => data, ended };
}

async function roundTrip(client: Redis): Promise<number> {
  const started = performance.now();
  await client.ping();
  return performance.now() - started;
}

describe('Toxiproxy in front of a real redis-server', () => {
  it('forwards traffic, and adds latency with jitter until cleared', async () => {
    expect(proxy.listen).toMatch(/^127\.0\.0\.1:\d+$/);
    const client = new Redis({ host: '127.0.0.1', port: proxy.port });
    try {
      await client.set('through-proxy', 'yes');
      expect(await direct.get('through-proxy')).toBe('yes');
      await proxy.latency(300, 50);
      const slow = await Promise.all([roundTrip(client), roundTrip(client), roundTrip(client)]);
      for (const ms of slow) expect(ms).toBeGreaterThanOrEqual(240);
      await proxy.clear();
      expect(await roundTrip(client)).toBeLessThan(200);
    } finally {
      client.disconnect();
    }
  });

  it('partitions: open connections hang without a reset, a write is held, and heal delivers it', async () => {
    const raw = await rawClient();
    await proxy.partition();
    raw.socket.write('SET partitioned held\r\n');
    const late = await rawClient(); // accepted by the proxy, but answered by nobody
    late.socket.write('PING\r\n');
    await delay(1500);
    expect(raw.received()).toBe('');
    expect(late.received()).toBe('');
    expect(await direct.get('partitioned')).toBeNull();
    expect(raw.socket.destroyed || late.socket.destroyed).toBe(false);
    await proxy.heal();
    await expect.poll(() => raw.received()).toBe('+OK\r\n');
    await expect.poll(() => late.received()).toBe('+PONG\r\n');
    expect(await direct.get('partitioned')).toBe('held');
    raw.socket.destroy();
    late.socket.destroy();
  });

  it('resets a connection mid-request: the write lands, its answer is an ECONNRESET', async () => {
    await proxy.resetPeer();
    const raw = await rawClient();
    raw.socket.write('SET reset-landed yes\r\n');
    expect(await raw.ended).toBe('ECONNRESET');
    expect(raw.received()).toBe('');
    expect(await direct.get('reset-landed')).toBe('yes');
    await proxy.clear();
  });

  it('resets on the way up when asked: the write never lands', async () => {
    await proxy.resetPeer({ stream: 'upstream' });
    const raw = await rawClient();
    raw.socket.write('SET reset-upstream yes\r\n');
    expect(await raw.ended).toBe('ECONNRESET');
    expect(await direct.get('reset-upstream')).toBeNull();
    await proxy.clear();
  });

  it('closes slowly: the server has closed, the client sees it only after the delay', async () => {
    await proxy.slowClose(1500);
    const raw = await rawClient();
    const started = performance.now();
    raw.socket.write('QUIT\r\n');
    await expect.poll(() => raw.received()).toBe('+OK\r\n');
    expect(await raw.ended).toBe('close');
    expect(performance.now() - started).toBeGreaterThanOrEqual(1400);
    await proxy.clear();
    const quick = await rawClient();
    const again = performance.now();
    quick.socket.write('QUIT\r\n');
    await quick.ended;
    expect(performance.now() - again).toBeLessThan(500);
  });
});
