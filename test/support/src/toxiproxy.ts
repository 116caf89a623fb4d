// Network faults for the fault suite: a private Toxiproxy (toxiproxy-server, built by
// scripts/install-toxiproxy.sh) between the services and Redis, MongoDB or an outside party,
// driven over its HTTP API. Latency with jitter, a partition, connection resets, a slow close.
import { findToxiproxy, INSTALL_COMMAND, startListening } from './infrastructure.ts';
import { startProcess } from './processes.ts';

/** Which way the toxic acts: `upstream` is client → server, `downstream` is server → client. */
export type ToxicStream = 'upstream' | 'downstream';

export interface FaultProxy {
  readonly name: string;
  /** `127.0.0.1:port`: what the service is given instead of the upstream's address. */
  readonly listen: string;
  readonly port: number;
  /** `host:port` the proxy forwards to. */
  readonly upstream: string;
  /** Adds `ms` (± `jitterMs`) to every chunk in `stream` (default downstream: each answer). */
  latency(ms: number, jitterMs?: number, stream?: ToxicStream | 'both'): Promise<void>;
  /**
   * Cuts all traffic both ways until {@link heal}: connections stay open and hang, nothing is
   * reset, and what is sent meanwhile is held, then delivered at heal, as TCP retransmits across a
   * real partition. New connections are accepted (by the proxy) but get no answer either.
   */
  partition(): Promise<void>;
  /** Ends the partition: held data flows on. */
  heal(): Promise<void>;
  /**
   * Resets connections (RST) on their first data in `stream`, after `afterMs` (default 0). Default
   * downstream: the request reaches the server, its answer is lost, the caller gets ECONNRESET
   * (an outcome it cannot know). Only connections opened after the call are reset with RST;
   * Toxiproxy closes the ones open before it with a FIN (it sets SO_LINGER 0 when a link starts).
   */
  resetPeer(options?: { stream?: ToxicStream; afterMs?: number }): Promise<void>;
  /** Delays the close of a connection by `ms` in `stream` (default downstream: the server's). */
  slowClose(ms: number, stream?: ToxicStream): Promise<void>;
  /** Removes every toxic of this proxy. */
  clear(): Promise<void>;
}

export interface Toxiproxy {
  /** `http://127.0.0.1:port`: Toxiproxy's HTTP API. */
  readonly apiUrl: string;
  /** Creates a proxy listening on a free loopback port and forwarding to `upstream` (`host:port`). */
  proxy(name: string, upstream: string): Promise<FaultProxy>;
  /** Removes every toxic of every proxy and enables them all. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a private toxiproxy-server on a free loopback port. */
export async function startToxiproxy(): Promise<Toxiproxy> {
  const binary = findToxiproxy();
  if (binary === undefined)
    throw new Error(`toxiproxy-server is not installed: run \`${INSTALL_COMMAND}\``);
  const server = await startListening(
    'toxiproxy-server',
    async (port) =>
      startProcess(binary, ['-host', '127.0.0.1', '-port', String(port)], {
        env: { ...process.env, LOG_LEVEL: 'warn' },
      }),
    (port) => `http://127.0.0.1:${port}`,
  );
  const api = toxiproxyApi(server.url);
  return {
    apiUrl: server.url,
    proxy: async (name, upstream) => {
      const created = (await api('POST', '/proxies', {
        name,
        upstream,
        listen: '127.0.0.1:0',
        enabled: true,
      })) as { listen: string };
      return faultProxy(api, name, upstream, created.listen);
    },
    reset: async () => void (await api('POST', '/reset')),
    stop: () => server.stop(),
  };
}

type Api = (method: string, path: string, body?: unknown) => Promise<unknown>;

function toxiproxyApi(baseUrl: string): Api {
  return async (method, path, body) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`toxiproxy ${method} ${path}: ${response.status} ${text}`);
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  };
}

// A partition is a latency longer than any test: Toxiproxy's `timeout` toxic (timeout 0) would
// drop the bytes instead, which no TCP partition does, and would desync the RESP and MongoDB wire
// streams once healed. The latency toxic holds them and hands them on when removed.
const PARTITION_MS = 24 * 60 * 60 * 1000;

function faultProxy(api: Api, name: string, upstream: string, listen: string): FaultProxy {
  const base = `/proxies/${encodeURIComponent(name)}/toxics`;
  const remove = async (toxic: string): Promise<void> => {
    await api('DELETE', `${base}/${toxic}`).catch((error: Error) => {
      if (!/: 404 /.test(error.message)) throw error;
    });
  };
  const put = async (
    type: string,
    stream: ToxicStream,
    attributes: Record<string, number>,
  ): Promise<void> => {
    const toxic = `${type}-${stream}`;
    await remove(toxic);
    await api('POST', base, { name: toxic, type, stream, toxicity: 1, attributes });
  };
  const streams = (stream: ToxicStream | 'both'): ToxicStream[] =>
    stream === 'both' ? ['upstream', 'downstream'] : [stream];
  return {
    name,
    listen,
    port: Number(listen.slice(listen.lastIndexOf(':') + 1)),
    upstream,
    latency: async (ms, jitterMs = 0, stream = 'downstream') => {
      for (const s of streams(stream)) await put('latency', s, { latency: ms, jitter: jitterMs });
    },
    partition: async () => {
      // Upstream first: nothing more reaches the server once the partition is said to be in place.
      await api('POST', base, partitionToxic('upstream'));
      await api('POST', base, partitionToxic('downstream'));
    },
    heal: async () => {
      await remove('partition-upstream');
      await remove('partition-downstream');
    },
    resetPeer: ({ stream = 'downstream', afterMs = 0 } = {}) =>
      put('reset_peer', stream, { timeout: afterMs }),
    slowClose: (ms, stream = 'downstream') => put('slow_close', stream, { delay: ms }),
    clear: async () => {
      const toxics = (await api('GET', base)) as Array<{ name: string }>;
      for (const toxic of toxics) await remove(toxic.name);
    },
  };
}

function partitionToxic(stream: ToxicStream): object {
  return {
    name: `partition-${stream}`,
    type: 'latency',
    stream,
    toxicity: 1,
    attributes: { latency: PARTITION_MS, jitter: 0 },
  };
}
