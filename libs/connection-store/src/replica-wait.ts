// Redis writes a worker acts on (a connection's lock, a call's recorded end, an earlier attempt
// marked abandoned) must outlive the loss of the primary when the deployment has replicas: Redis
// replicates asynchronously, so a write the primary acknowledged and then took down with it is
// gone after a failover, and a lock or a ledger entry that vanishes lets a second worker make the
// same outside call. With `replicas` > 0 each such write is a script followed by `WAIT` in one
// pipeline (on a Cluster, one node: the script's key decides it), and it counts only once that
// many replicas hold it.
import type { Cluster, Redis } from 'ioredis';

/** How many replicas must hold a write before it is acted on; 0 relies on the primary alone. */
export interface ReplicaWait {
  replicas: number;
  /** The longest one WAIT blocks the connection; a write not confirmed in time is asked again. */
  timeoutMs?: number;
}

/** The longest one WAIT holds the connection (every later command on it waits behind it). */
export const REPLICA_WAIT_MS = 500;

interface WaitingPipeline {
  eval(script: string, keys: number, ...args: (string | number)[]): WaitingPipeline;
  wait(replicas: number, timeoutMs: number): WaitingPipeline;
  exec(): Promise<[Error | null, unknown][] | null>;
}

/**
 * Runs `script` on `key` and, when replicas are asked for, WAIT after it on the same server.
 * `confirmed` says whether enough replicas hold everything the server held after the script
 * (always true when none are asked for). Throws when the script or the WAIT fails (a dropped
 * connection, a demoted primary): the write's outcome is then unknown and the caller asks again.
 */
export async function evalConfirmed(
  redis: Redis | Cluster,
  wait: ReplicaWait | undefined,
  script: string,
  key: string,
  ...args: (string | number)[]
): Promise<{ result: unknown; confirmed: boolean }> {
  if (wait === undefined || wait.replicas <= 0) {
    return { result: await redis.eval(script, 1, key, ...args), confirmed: true };
  }
  const pipeline = redis.pipeline() as unknown as WaitingPipeline;
  pipeline.eval(script, 1, key, ...args);
  pipeline.wait(wait.replicas, wait.timeoutMs ?? REPLICA_WAIT_MS);
  const replies = (await pipeline.exec()) ?? [];
  const [scriptError, result] = replies[0] ?? [new Error('no answer to the script'), undefined];
  if (scriptError !== null) throw scriptError;
  const [waitError, acked] = replies[1] ?? [new Error('no answer to WAIT'), undefined];
  if (waitError !== null) throw waitError;
  return { result, confirmed: Number(acked) >= wait.replicas };
}
