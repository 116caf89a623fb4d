// Fortellis as a caller: sends POST /activate and POST /deactivate/{connectionId} to a provider's
// Admin API URL with a valid token and a Request-Id, singly or as a stream at a rate or concurrency.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { Agent, request, type Dispatcher } from 'undici';
import { ActivationGenerator } from './payloads.ts';

/** Where tokens come from: a function giving the bearer token for the next call. */
export type TokenSource = () => string | Promise<string>;

export interface CallerOptions {
  /** The registered Admin API URL (a base: `/activate` is appended). */
  adminApiUrl: string;
  token: TokenSource;
  /** Seed of the payload generator. Default 1. */
  seed?: number;
  /** Per-call timeout. Default 10 s. */
  timeoutMs?: number;
  /** Maximum sockets to the provider. Default 64. */
  connections?: number;
}

export interface CallResult {
  kind: 'activate' | 'deactivate';
  connectionId: string;
  requestId: string;
  /** HTTP status, or 0 when the call failed before an answer. */
  status: number;
  body: unknown;
  headers: Record<string, string>;
  latencyMs: number;
  /** When the answer (or the failure) came, in epoch milliseconds. */
  answeredAt: number;
  error?: string;
}

export interface StreamOptions {
  count: number;
  /** Calls started per second; unpaced when absent. */
  rate?: number;
  /** Calls in flight at most. Default 1 when unpaced; 256 when paced. */
  concurrency?: number;
}

/** A Fortellis caller bound to one provider. */
export class FortellisCaller {
  readonly generator: ActivationGenerator;
  readonly #options: CallerOptions;
  readonly #dispatcher: Dispatcher;

  constructor(options: CallerOptions) {
    this.#options = options;
    this.generator = new ActivationGenerator(options.seed ?? 1);
    this.#dispatcher = new Agent({
      connections: options.connections ?? 64,
      keepAliveTimeout: 10_000,
    });
  }

  /** Sends one activation (the next generated one unless a payload is given). */
  async activate(
    payload: unknown = this.generator.next(),
    requestId = randomUUID(),
  ): Promise<CallResult> {
    const connectionId = (payload as { connectionId?: unknown } | null)?.connectionId;
    return this.#send(
      'activate',
      '/activate',
      typeof connectionId === 'string' ? connectionId : '',
      JSON.stringify(payload),
      requestId,
    );
  }

  /** Sends one deactivation. */
  async deactivate(connectionId: string, requestId = randomUUID()): Promise<CallResult> {
    return this.#send(
      'deactivate',
      `/deactivate/${encodeURIComponent(connectionId)}`,
      connectionId,
      undefined,
      requestId,
    );
  }

  /** Sends `count` generated activations; results in sending order. */
  async activateMany(options: StreamOptions): Promise<CallResult[]> {
    const payloads = Array.from({ length: options.count }, () => this.generator.next());
    return this.#stream(options, (i) => this.activate(payloads[i]));
  }

  /** Deactivates the given connections; results in the same order. */
  async deactivateMany(
    connectionIds: readonly string[],
    options: Omit<StreamOptions, 'count'> = {},
  ): Promise<CallResult[]> {
    return this.#stream({ ...options, count: connectionIds.length }, (i) =>
      this.deactivate(connectionIds[i] ?? ''),
    );
  }

  async close(): Promise<void> {
    await this.#dispatcher.close();
  }

  async #stream(
    options: StreamOptions,
    call: (index: number) => Promise<CallResult>,
  ): Promise<CallResult[]> {
    const results: CallResult[] = new Array<CallResult>(options.count);
    const concurrency = Math.max(
      1,
      Math.min(options.count, options.concurrency ?? (options.rate === undefined ? 1 : 256)),
    );
    const start = performance.now();
    let next = 0;
    const worker = async (): Promise<void> => {
      for (;;) {
        const index = next;
        next += 1;
        if (index >= options.count) return;
        if (options.rate !== undefined) {
          const wait = start + (index * 1000) / options.rate - performance.now();
          if (wait > 0) await delay(wait);
        }
        results[index] = await call(index);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return results;
  }

  async #send(
    kind: CallResult['kind'],
    path: string,
    connectionId: string,
    body: string | undefined,
    requestId: string,
  ): Promise<CallResult> {
    const started = performance.now();
    const headers: Record<string, string> = {
      authorization: `Bearer ${await this.#options.token()}`,
      accept: 'application/json',
      'accept-charset': 'utf-8',
      prefer: 'return=representation',
      'request-id': requestId,
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const url = `${this.#options.adminApiUrl.replace(/\/+$/, '')}${path}`;
    try {
      const response = await request(url, {
        method: 'POST',
        headers,
        body: body ?? null,
        dispatcher: this.#dispatcher,
        headersTimeout: this.#options.timeoutMs ?? 10_000,
        bodyTimeout: this.#options.timeoutMs ?? 10_000,
      });
      const text = await response.body.text();
      let parsed: unknown = text;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        // Not JSON: keep the text as it came.
      }
      const answerHeaders: Record<string, string> = {};
      for (const [name, value] of Object.entries(response.headers)) {
        if (value !== undefined)
          answerHeaders[name] = Array.isArray(value) ? value.join(', ') : value;
      }
      return {
        kind,
        connectionId,
        requestId,
        status: response.statusCode,
        body: parsed,
        headers: answerHeaders,
        latencyMs: performance.now() - started,
        answeredAt: Date.now(),
      };
    } catch (error) {
      return {
        kind,
        connectionId,
        requestId,
        status: 0,
        body: undefined,
        headers: {},
        latencyMs: performance.now() - started,
        answeredAt: Date.now(),
        error: String(error),
      };
    }
  }
}

/**
 * Tokens for a caller in another process than the simulator: minted by the running simulator at
 * `simUrl` (`POST /_sim/tokens`) on first use, then kept, as a real caller keeps its token.
 */
export function remoteTokenSource(simUrl: string): () => Promise<string> {
  const base = simUrl.replace(/\/+$/, '');
  let token: Promise<string> | undefined;
  return () => {
    token ??= (async () => {
      const response = await fetch(`${base}/_sim/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      if (!response.ok)
        throw new Error(`simulator at ${base} answered ${response.status} for a token`);
      return ((await response.json()) as { token: string }).token;
    })();
    return token;
  };
}
