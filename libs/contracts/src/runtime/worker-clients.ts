// Connects a worker process to MongoDB and Redis, the way both workers need them.
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import type { Logger } from 'pino';

export interface WorkerClients {
  mongo: MongoClient;
  /** Retries forever and never fails a blocking command, as BullMQ workers require. */
  redis: Redis;
  close(): Promise<void>;
}

export async function connectWorkerClients(
  urls: { mongoUrl: string; redisUrl: string },
  logger: Logger,
): Promise<WorkerClients> {
  const mongo = new MongoClient(urls.mongoUrl, { serverSelectionTimeoutMS: 5000 });
  await mongo.connect();
  const redis = new Redis(urls.redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
  redis.on('error', (error) =>
    logger.warn({ err: { message: error.message } }, 'redis connection error'),
  );
  try {
    await redis.connect();
  } catch (error) {
    await mongo.close();
    throw error;
  }
  return {
    mongo,
    redis,
    close: async () => {
      redis.disconnect();
      await mongo.close();
    },
  };
}
