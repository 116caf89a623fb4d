// Every Redis connection the services open, made here from the settings (one URL, a master behind
// Sentinels, or a Cluster), with what each use needs to ride out a failover without a restart: a
// demoted primary's READONLY and a blocked client's UNBLOCKED make the client reconnect (to the new
// primary, asked of the Sentinels), Sentinel's +switch-master drops connections to the old one at
// once (even a stalled one that would never answer), and the reconnection is quick.
import { Cluster, Redis, type ClusterOptions, type RedisOptions as DriverOptions } from 'ioredis';
import type { Logger } from './logger.ts';
import type { RedisEndpoint, RedisSettings } from './redis-settings.ts';

export * from './redis-settings.ts';

// ioredis's own type declares `replyMapping?: X | undefined`, which its constructors refuse under
// exactOptionalPropertyTypes; nothing here sets it.
type RedisOptions = Omit<DriverOptions, 'replyMapping'>;

/** A connection to one Redis (direct or behind Sentinels) or to a Cluster. */
export type RedisClient = Redis | Cluster;

/**
 * What a connection is for:
 * - `publisher`: the ingress's and operations' (queues, locks, login counters). Commands are never
 *   queued in memory while Redis is away and are not retried by the driver: the caller decides how
 *   long to wait, and knows what was never sent.
 * - `worker`: BullMQ's in a worker process (the queues, the blocking fetch): retries forever
 *   (`maxRetriesPerRequest: null`, as BullMQ requires) and resends a command refused by a demoted
 *   primary once connected to the new one.
 * - `app`: a worker's own (connection locks, the call-outcome ledger), retried as `worker`.
 */
export type RedisPurpose = 'publisher' | 'worker' | 'app';

/** A primary turned replica refuses writes with this; the command did not run. */
const DEMOTED = 'READONLY';
/** A blocking command on a primary turned replica ends with this; nothing was popped. */
const UNBLOCKED = 'UNBLOCKED';

/** Reconnection delays: quick, since a failover is over in seconds and callers are waiting. */
function retryDelayMs(attempt: number): number {
  return Math.min(attempt * 100, 1000);
}

/**
 * The options of one purpose. On `worker` and `app` a command refused by a demoted primary is sent
 * again after reconnecting (it did not run); on `publisher` it fails, so that the publisher, which
 * cannot tell it from an answer lost on the wire, looks up what was stored.
 */
function purposeOptions(purpose: RedisPurpose, logger: Logger): RedisOptions {
  const retried = purpose !== 'publisher';
  return {
    lazyConnect: true,
    connectTimeout: retried ? 5000 : 1000,
    // The publisher's callers wait at most the hold window: it reconnects within half a second.
    retryStrategy: retried ? retryDelayMs : (attempt) => Math.min(attempt * 100, 500),
    maxRetriesPerRequest: retried ? null : 0,
    enableOfflineQueue: retried,
    reconnectOnError: (error) => {
      const failover = error.message.startsWith(DEMOTED) || error.message.startsWith(UNBLOCKED);
      if (!failover) return false;
      logger.warn(
        { err: { message: error.message.slice(0, 120) }, purpose },
        'redis: the primary changed, reconnecting',
      );
      return retried ? 2 : 1;
    },
  };
}

function authOptions(settings: RedisSettings): RedisOptions {
  return {
    ...(settings.username === undefined ? {} : { username: settings.username }),
    ...(settings.password === undefined ? {} : { password: settings.password }),
    ...(settings.tls ? { tls: {} } : {}),
  };
}

function sentinelOptions(
  topology: Extract<RedisSettings['topology'], { kind: 'sentinel' }>,
  settings: RedisSettings,
): RedisOptions {
  return {
    sentinels: topology.sentinels.map(({ host, port }) => ({ host, port })),
    name: topology.masterName,
    role: 'master',
    ...(topology.sentinelPassword === undefined
      ? {}
      : { sentinelPassword: topology.sentinelPassword }),
    ...(settings.tls ? { enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
    // Subscribes to +switch-master on the Sentinels and drops the connection when the master
    // changes: without it, a connection to a stalled (SIGSTOPped) primary waits forever.
    failoverDetector: true,
    // How the detector drops it: end() (a FIN), then destroy() after this long. A stalled primary
    // never answers the FIN; resumed within that time, it would first answer what it was sent
    // while stalled, writes it loses when it rejoins as a replica: acknowledgements of lost jobs,
    // locks never held (measured: 41 jobs acknowledged that way with ioredis's 2 s default).
    disconnectTimeout: 0,
    // The Sentinels may all be away for a moment (a restart): keep asking them.
    sentinelRetryStrategy: retryDelayMs,
    sentinelReconnectStrategy: retryDelayMs,
    // A Sentinel that has not heard of the failover yet answers with the old primary: the role
    // check after connecting (INFO) sends the client to the next Sentinel.
    enableReadyCheck: true,
  };
}

/**
 * Makes a Cluster's connect() settle once the cluster is ready, and its duplicates' too (BullMQ's
 * blocking connection is one). ioredis's promise never settles when the ready check after
 * connecting fails (CLUSTER INFO says cluster_state:fail, as between a primary's death and its
 * replica's promotion): the cluster drops the connection and reconnects by itself, on a new
 * promise, and forgets the first one. BullMQ awaits connect() when it resets its blocking
 * connection (its watchdog does after a blocking fetch outlasts its timeout, as one does through a
 * failover): a worker that reset it at that moment waited forever and took no job until restarted
 * (measured on a Cluster, issue 24).
 */
function settleConnect<C extends Cluster>(cluster: C): C {
  // One wait for 'ready' shared by every pending connect(): ioredis calls connect() at each of its
  // own reconnection attempts, which must not pile up listeners through a long outage.
  let waiting: Promise<void> | undefined;
  const readyOrEnded = (): Promise<void> =>
    (waiting ??= new Promise<void>((resolve, reject) => {
      const settle = (): void => {
        waiting = undefined;
        cluster.off('ready', ready);
        cluster.off('end', ended);
      };
      const ready = (): void => {
        settle();
        resolve();
      };
      // Ended for good (disconnect()): no attempt follows.
      const ended = (): void => {
        settle();
        reject(new Error('Connection is closed.'));
      };
      cluster.once('ready', ready);
      cluster.once('end', ended);
    }));
  const connect = cluster.connect.bind(cluster);
  // An attempt that fails before its ready check still rejects, as ioredis's does.
  cluster.connect = () => Promise.race([connect(), readyOrEnded()]);
  const duplicate = cluster.duplicate.bind(cluster);
  cluster.duplicate = (...args: Parameters<Cluster['duplicate']>) =>
    settleConnect(duplicate(...args));
  return cluster;
}

/**
 * Drops a Sentinel client's failover detector when its connection closes, on the client and on its
 * duplicates (BullMQ's blocking connection is one). ioredis keeps the detector of the last
 * connection subscribed to +switch-master while the client reconnects; a failover announced during
 * the reconnection (as after the primary's kill -9: the client is already trying again when the
 * Sentinels promote a replica) makes that stale detector disconnect the connector in the middle of
 * the new attempt, which then fails with "Connection is closed." and ends the client for good. A
 * worker whose BullMQ connection ended so took no job again until restarted, logging nothing but
 * that error (the fault suite's Sentinel kill -9, issue 24). The next connection makes its own
 * detector.
 */
function dropStaleFailoverDetector(client: Redis): Redis {
  type WithDetector = { connector?: { failoverDetector?: { cleanup(): void } | null } };
  client.on('close', () => {
    const connector = (client as unknown as WithDetector).connector;
    if (connector?.failoverDetector == null) return;
    connector.failoverDetector.cleanup();
    connector.failoverDetector = null;
  });
  const duplicate = client.duplicate.bind(client);
  client.duplicate = (...args: Parameters<Redis['duplicate']>) =>
    dropStaleFailoverDetector(duplicate(...args));
  return client;
}

function clusterOptions(
  purpose: RedisPurpose,
  base: RedisOptions,
): Omit<ClusterOptions, 'redisOptions'> & { redisOptions: RedisOptions } {
  const retried = purpose !== 'publisher';
  return {
    lazyConnect: true,
    enableOfflineQueue: retried,
    enableReadyCheck: true,
    // Every command goes to the primary holding the slot: a replica may lag behind it.
    scaleReads: 'master',
    clusterRetryStrategy: retryDelayMs,
    // While a dead primary's replica is promoted (cluster-node-timeout and an election, seconds),
    // its slots answer CLUSTERDOWN or the connection is closed: try again, for about 10 s.
    retryDelayOnFailover: 300,
    retryDelayOnClusterDown: 300,
    retryDelayOnTryAgain: 300,
    maxRedirections: 32,
    slotsRefreshTimeout: 2000,
    // ioredis gives each node connection its own lazyConnect and no retryStrategy: the cluster
    // reconnects, refreshing its slots.
    redisOptions: base,
  };
}

/**
 * Opens (lazily: call `connect()`) the connection for `purpose`. Errors are logged here, once per
 * connection, as warnings without the URL (it may carry credentials).
 */
export function createRedisConnection(
  settings: RedisSettings,
  purpose: RedisPurpose,
  logger: Logger,
): RedisClient {
  const base = purposeOptions(purpose, logger);
  const { topology } = settings;
  let client: RedisClient;
  if (topology.kind === 'url') client = new Redis(topology.url, base);
  else if (topology.kind === 'sentinel')
    client = dropStaleFailoverDetector(
      new Redis({
        ...base,
        ...authOptions(settings),
        ...sentinelOptions(topology, settings),
      }),
    );
  else
    client = settleConnect(
      new Cluster(
        topology.nodes.map(({ host, port }: RedisEndpoint) => ({ host, port })),
        clusterOptions(purpose, { ...base, ...authOptions(settings) }),
      ),
    );
  const warn = (error: Error): void =>
    logger.warn({ err: { message: error.message }, purpose }, 'redis connection error');
  client.on('error', warn);
  // A Cluster reports its nodes' connection errors apart from its own.
  if (client instanceof Cluster) client.on('node error', warn);
  return client;
}

/**
 * The connection a publisher needs (the ingress's, operations'): nothing is queued in memory while
 * Redis is away, and it reconnects quickly, since calls wait for Redis only as long as the hold
 * window.
 */
export function createProducerConnection(url: string, logger: Logger): Redis;
export function createProducerConnection(settings: RedisSettings, logger: Logger): RedisClient;
export function createProducerConnection(
  where: string | RedisSettings,
  logger: Logger,
): RedisClient {
  const settings: RedisSettings =
    typeof where === 'string'
      ? { topology: { kind: 'url', url: where }, tls: false, queuePrefix: '' }
      : where;
  return createRedisConnection(settings, 'publisher', logger);
}
