// Connects a worker process to MongoDB and Redis, the way both workers need them.
import type { MongoClient } from 'mongodb';
import { Queue, type Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { countMongoCommands, countRedisCommands } from './command-counting.ts';
import type { QueueName } from '@fortellis-admin/contracts';
import { instrumentQueue, startMonitoringServer } from './metrics.ts';
import { createRedisConnection, type RedisClient, type RedisSettings } from './redis-connection.ts';

export interface WorkerClients {
  mongo: MongoClient;
  /** BullMQ's: retries forever and never fails a blocking command, as BullMQ workers require. */
  redis: RedisClient;
  /** The service's own (connection locks, the call-outcome ledger): counted on /metrics. */
  appRedis: RedisClient;
  close(): Promise<void>;
}

/** Connects to MongoDB and Redis; with a registry, the commands the service sends are counted. */
export async function connectWorkerClients(
  urls: { mongoUrl: string; redis: RedisSettings },
  logger: Logger,
  registry?: Registry,
): Promise<WorkerClients> {
  // Loaded here, not at the top: every service imports this package, and the ingress, which never
  // talks to MongoDB, would otherwise carry the driver (~30 MB of RSS, 18 MB of it buffers).
  const { MongoClient } = await import('mongodb');
  const mongo = new MongoClient(urls.mongoUrl, {
    serverSelectionTimeoutMS: 5000,
    monitorCommands: registry !== undefined,
  });
  if (registry !== undefined) countMongoCommands(mongo, registry);
  await mongo.connect();
  const connect = async (purpose: 'worker' | 'app'): Promise<RedisClient> => {
    const redis = createRedisConnection(urls.redis, purpose, logger);
    await redis.connect();
    return redis;
  };
  let redis: RedisClient | undefined;
  try {
    redis = await connect('worker');
    const appRedis = await connect('app');
    if (registry !== undefined) countRedisCommands(appRedis, registry, 'app');
    return {
      mongo,
      redis,
      appRedis,
      close: async () => {
        redis?.disconnect();
        appRedis.disconnect();
        await mongo.close();
      },
    };
  } catch (error) {
    redis?.disconnect();
    await mongo.close();
    throw error;
  }
}

/**
 * Starts a worker's monitoring listener: /health, /ready (Redis and MongoDB answer a ping) and
 * /metrics with the queue's series. Logs the port it listens on.
 */
export async function startWorkerMonitoring(options: {
  clients: WorkerClients;
  registry: Registry;
  worker: Worker;
  queueName: QueueName;
  prefix: string;
  host: string;
  port: number;
  logger: Logger;
}): Promise<{ port: number; close(): Promise<void> }> {
  const inspector = new Queue(options.queueName, {
    connection: options.clients.redis,
    prefix: options.prefix,
  });
  instrumentQueue(options.registry, options.queueName, options.worker, inspector);
  const server = await startMonitoringServer({
    host: options.host,
    port: options.port,
    registry: options.registry,
    ready: async () => ({
      redis: await options.clients.redis.ping().then(
        (answer) => answer === 'PONG',
        () => false,
      ),
      mongodb: await options.clients.mongo
        .db('admin')
        .command({ ping: 1 })
        .then(
          () => true,
          () => false,
        ),
    }),
  });
  options.logger.info({ monitoringPort: server.port }, 'monitoring listener started');
  return {
    port: server.port,
    close: async () => {
      await server.close();
      await inspector.close();
    },
  };
}
