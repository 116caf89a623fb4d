// Records every call the simulator receives, per endpoint, for tests to assert on.
import type { Endpoint, Fault } from './fault-script.ts';

export interface RecordedCall {
  endpoint: Endpoint;
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  /** Parsed JSON or form body; undefined when there was none. */
  body: unknown;
  /** Route parameters, e.g. `connectionId`. */
  params: Record<string, string>;
  at: Date;
  /** The scripted fault applied to this call, if any. */
  fault?: Fault;
  /** The status the simulator answered with (undefined for hang and reset). */
  status?: number;
}

export class Recorder {
  readonly #calls: RecordedCall[] = [];

  add(call: RecordedCall): RecordedCall {
    this.#calls.push(call);
    return call;
  }

  /** The calls to one endpoint (or all), oldest first. */
  calls(endpoint?: Endpoint): RecordedCall[] {
    return endpoint === undefined
      ? [...this.#calls]
      : this.#calls.filter((call) => call.endpoint === endpoint);
  }

  count(endpoint: Endpoint): number {
    return this.#calls.reduce((n, call) => (call.endpoint === endpoint ? n + 1 : n), 0);
  }

  clear(): void {
    this.#calls.length = 0;
  }
}
