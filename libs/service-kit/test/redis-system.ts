// The services' Redis side, assembled as they assemble it, for the failover tests: the ingress's
// publisher on its producer connection, a BullMQ worker on the worker connection, and the call
// ledger and connection locks on the app connection, all opened by createRedisConnection from the
// settings the services read from their environment. A "pump" publishes a job every few
// milliseconds and records when each was acknowledged and when the worker finished it.
import { setTimeout as delay } from 'node:timers/promises';
import { JOB_NAMES, QUEUE_NAMES } from '@fortellis-admin/contracts';
import { ConnectionLocks } from '@fortellis-admin/connection-store';
import {
  createLogger,
  createProducerConnection,
  createQueueWorker,
  createRedisConnection,
  JobPublisher,
  loadEnv,
  redisSettingsOf,
  REDIS_ENV_PROPERTIES,
  RedisCallOutcomeLedger,
  type RedisSettings,
} from '@fortellis-admin/service-kit';
import { Queue, type Worker } from 'bullmq';

/** One job's story: when it was published, acknowledged (or refused), and finished. */
export interface Shot {
  id: string;
  publishedAt: number;
  ackedAt?: number;
  refusedAt?: number;
  doneAt?: number;
}

export interface RedisSystem {
  settings: RedisSettings;
  ledger: RedisCallOutcomeLedger;
  worker: Worker;
  shots: Map<string, Shot>;
  /** The job's state in the queue (waiting, active, completed...). */
  stateOf(id: string): Promise<string>;
  /** Publishes one job; resolves when it is acknowledged or refused. */
  publish(): Promise<Shot>;
  /** Publishes a job every `everyMs` until stopped; returns the stop function. */
  pump(everyMs: number): () => Promise<void>;
  close(): Promise<void>;
}

const schema = { type: 'object', properties: REDIS_ENV_PROPERTIES } as const;

/** The settings a service would read from `env` (REDIS_SENTINELS..., REDIS_CLUSTER_NODES...). */
export function settingsFromEnv(env: Record<string, string>): RedisSettings {
  return redisSettingsOf(loadEnv(schema, env));
}

export async function startRedisSystem(env: Record<string, string>): Promise<RedisSystem> {
  const settings = settingsFromEnv(env);
  const logger = createLogger(
    'failover-test',
    process.env.FAILOVER_TEST_LOG === '1' ? 'info' : 'silent',
  );
  const producer = createProducerConnection(settings, logger);
  const workerConnection = createRedisConnection(settings, 'worker', logger);
  const app = createRedisConnection(settings, 'app', logger);
  await Promise.all([producer.connect(), workerConnection.connect(), app.connect()]);
  if (process.env.FAILOVER_TEST_LOG === '1')
    for (const [name, connection] of Object.entries({ producer, workerConnection, app }))
      connection.on('close', () => console.info(`CLOSE ${name} ${Date.now()}`));
  const publisher = new JobPublisher({
    connection: producer,
    prefix: settings.queuePrefix,
    logger,
  });
  const ledger = new RedisCallOutcomeLedger(app, { prefix: settings.queuePrefix, ttlSeconds: 600 });
  const locks = new ConnectionLocks(app, { prefix: settings.queuePrefix });
  const shots = new Map<string, Shot>();
  const worker = createQueueWorker({
    queue: QUEUE_NAMES.approval,
    // What a use case does with Redis around its work: the connection's lock, the ledger's entry.
    processor: async (job) => {
      const id = job.id ?? '';
      await locks.withLock(id, async () => {
        await ledger.record(id, { finished: true });
      });
      const shot = shots.get(id);
      if (shot !== undefined) shot.doneAt ??= Date.now();
    },
    connection: workerConnection,
    prefix: settings.queuePrefix,
    concurrency: 8,
    lockMs: 5000,
    keepFailed: { days: 1, count: 1000 },
    backoff: { baseMs: 200, maxMs: 1000 },
    logger,
  });
  const inspector = new Queue(QUEUE_NAMES.approval, {
    connection: workerConnection,
    prefix: settings.queuePrefix,
  });
  inspector.on('error', () => undefined);
  let sequence = 0;
  const publish = async (): Promise<Shot> => {
    const shot: Shot = { id: `job-${Date.now()}-${(sequence += 1)}`, publishedAt: Date.now() };
    shots.set(shot.id, shot);
    try {
      await publisher.publish(JOB_NAMES.activationReceived, { n: sequence } as never, shot.id);
      shot.ackedAt = Date.now();
    } catch {
      shot.refusedAt = Date.now();
    }
    return shot;
  };
  return {
    settings,
    ledger,
    worker,
    shots,
    stateOf: (id) => inspector.getJobState(id),
    publish,
    pump: (everyMs) => {
      let running = true;
      const inFlight: Promise<Shot>[] = [];
      const loop = (async () => {
        while (running) {
          inFlight.push(publish());
          await delay(everyMs);
        }
      })();
      return async () => {
        running = false;
        await loop;
        await Promise.all(inFlight);
      };
    },
    close: async () => {
      await worker.close(true);
      await inspector.close();
      await publisher.close();
      for (const connection of [producer, workerConnection, app]) connection.disconnect();
    },
  };
}

/** Waits until `check` holds, polling every 50 ms, or throws after `timeoutMs`. */
export async function waitFor(
  what: string,
  timeoutMs: number,
  check: () => boolean,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(50);
  }
}

/**
 * After a fault at `faultAt`: how long until a job published after the fault was acknowledged, and
 * until one was finished by the worker (ms); and the jobs acknowledged but never finished.
 */
export function recoveryAfter(
  shots: Iterable<Shot>,
  faultAt: number,
): { ackedMs: number | undefined; doneMs: number | undefined; unfinished: string[] } {
  const after = [...shots].filter((shot) => shot.publishedAt >= faultAt);
  const first = (times: Array<number | undefined>): number | undefined => {
    const known = times.filter((time): time is number => time !== undefined);
    return known.length === 0 ? undefined : Math.min(...known) - faultAt;
  };
  return {
    ackedMs: first(after.map((shot) => shot.ackedAt)),
    doneMs: first(after.map((shot) => shot.doneAt)),
    unfinished: [...shots]
      .filter((shot) => shot.ackedAt !== undefined && shot.doneAt === undefined)
      .map((shot) => shot.id),
  };
}
