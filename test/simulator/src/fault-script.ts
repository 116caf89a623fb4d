// Scriptable faults per endpoint: each call takes the next scripted fault, in order.

/** The endpoints of the simulator whose behaviour can be scripted. */
export const ENDPOINTS = [
  'jwks',
  'token',
  'callback',
  'idpToken',
  'status',
  'provision',
  'deprovision',
] as const;
export type Endpoint = (typeof ENDPOINTS)[number];

/** One scripted misbehaviour. */
export type Fault =
  /**
   * Answer with this status (and a small JSON error body, or `body`) instead of handling the call;
   * with `Retry-After: {retryAfterSeconds}`, or `Retry-After: {retryAfter}` as written (an HTTP date).
   */
  | {
      kind: 'status';
      status: number;
      retryAfterSeconds?: number;
      retryAfter?: string;
      body?: string;
    }
  /**
   * Answer with this status and a JSON body of `bytes` bytes: declared in `Content-Length`, or,
   * when `chunked`, streamed without one, so only a reader that counts can stop it.
   */
  | { kind: 'oversized'; status: number; bytes: number; chunked?: boolean }
  /** Wait, then handle the call normally (or past a client's timeout). */
  | { kind: 'delay'; ms: number }
  /** Never answer; the socket stays open until the client gives up or the simulator stops. */
  | { kind: 'hang' }
  /** Destroy the TCP connection without answering. */
  | { kind: 'reset' };

interface Scripted {
  fault: Fault;
  remaining: number;
}

/** Per-endpoint queues of faults. A call with nothing scripted is handled normally. */
export class FaultScript {
  readonly #queues = new Map<Endpoint, Scripted[]>();

  /** Scripts `fault` for the next `times` calls (Infinity: until cleared) after those already queued. */
  add(endpoint: Endpoint, fault: Fault, times = 1): this {
    const queue = this.#queues.get(endpoint) ?? [];
    queue.push({ fault, remaining: times });
    this.#queues.set(endpoint, queue);
    return this;
  }

  /** Fails the next `times` calls with `status`. */
  failNext(endpoint: Endpoint, status: number, times = 1): this {
    return this.add(endpoint, { kind: 'status', status }, times);
  }

  /** Answers the next `times` calls 429 with `Retry-After: seconds`. */
  throttleNext(endpoint: Endpoint, retryAfterSeconds: number, times = 1): this {
    return this.add(endpoint, { kind: 'status', status: 429, retryAfterSeconds }, times);
  }

  /** Answers the next `times` calls with `status` and `body` as JSON, whatever the contract says. */
  answerNext(endpoint: Endpoint, status: number, body: unknown, times = 1): this {
    return this.add(endpoint, { kind: 'status', status, body: JSON.stringify(body) }, times);
  }

  /** Takes the fault for the current call, if any. */
  take(endpoint: Endpoint): Fault | undefined {
    const queue = this.#queues.get(endpoint);
    const head = queue?.[0];
    if (queue === undefined || head === undefined) return undefined;
    head.remaining -= 1;
    if (head.remaining <= 0) queue.shift();
    return head.fault;
  }

  /** Removes what is scripted for one endpoint, or for all. */
  clear(endpoint?: Endpoint): void {
    if (endpoint === undefined) this.#queues.clear();
    else this.#queues.delete(endpoint);
  }
}
