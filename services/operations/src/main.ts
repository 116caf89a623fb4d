// Composition root of the operations service: configuration, logger, the Redis and MongoDB
// connections, the deps (wiring.ts) and the app (app.ts) on its listener, and how they stop.
import { MongoClient } from 'mongodb';
import {
  createLogger,
  createProducerConnection,
  runService,
  type Logger,
} from '@fortellis-admin/service-kit';
import { buildApp } from './app.ts';
import { loadOperationsConfig, type OperationsConfig } from './config.ts';
import { DEFAULT_OPERATOR_ROLE } from './domain/operator-roles.ts';
import { wireOperations } from './wiring.ts';

await runService({
  name: 'operations',
  loadConfig: () => loadOperationsConfig(process.env),
  createLogger: (config) => createLogger('operations', config.logLevel),
  stopTimeoutMs: (config) => config.shutdownTimeoutMs,
  start: async (config, logger) => {
    const mongo = new MongoClient(config.mongo.url, { serverSelectionTimeoutMS: 5000 });
    await mongo.connect();
    const redis = createProducerConnection(config.redis, logger);
    // Without Redis the console still starts (and /ready says so) and keeps reconnecting.
    await redis
      .connect()
      .catch((error: unknown) =>
        logger.error({ err: error }, 'redis not reachable at start; retrying'),
      );
    const { deps, publisher } = await wireOperations(config, { mongo, redis, logger });
    const app = await buildApp(deps);
    await app.listen({ host: config.http.host, port: config.http.port });
    logOperatorTokens(config, logger);
    return {
      stop: async () => {
        await app.close();
        await publisher.close();
        await mongo.close();
        redis.disconnect();
      },
    };
  },
});

/** Says who may operate with which role, and warns of the tokens whose role was defaulted. */
function logOperatorTokens(config: OperationsConfig, logger: Logger): void {
  logger.info(
    {
      operators: config.tokens.length,
      roles: config.tokens.map(({ name, role }) => `${name}:${role}`),
    },
    'operator tokens loaded',
  );
  const defaulted = config.tokens.filter((entry) => entry.roleDefaulted).map(({ name }) => name);
  if (defaulted.length > 0)
    logger.warn(
      { event: 'operator_role_defaulted', entries: defaulted, role: DEFAULT_OPERATOR_ROLE },
      `OPS_API_TOKENS entries without a role get ${DEFAULT_OPERATOR_ROLE} (review, suspend, retry; not Bull Board's actions nor the rules dry run): write name:role=token (${defaulted.join(', ')})`,
    );
}
