// The local stack: resolves Redis and a MongoDB-wire server (env, Docker, or local binaries),
// starts the three services against them, prints where they listen, and stops everything on Ctrl-C.
import {
  freePort,
  resolveMongo,
  resolveRedis,
  startService,
  type Endpoint,
  type ManagedProcess,
} from '@fortellis-admin/test-support';

const port = Number(process.env.PORT ?? 3000);
const queuePrefix = process.env.QUEUE_PREFIX ?? 'fortellis-admin-dev';
const endpoints: Endpoint[] = [];
const services: ManagedProcess[] = [];

async function stopAll(): Promise<void> {
  await Promise.allSettled(services.map((service) => service.stop()));
  await Promise.allSettled(endpoints.map((endpoint) => endpoint.stop()));
}

function relay(name: string, service: ManagedProcess): void {
  const write = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() !== '') process.stdout.write(`[${name}] ${line}\n`);
    }
  };
  service.child.stdout?.on('data', write);
  service.child.stderr?.on('data', write);
}

try {
  const [redis, mongo] = await Promise.all([resolveRedis(), resolveMongo()]);
  endpoints.push(redis, mongo);
  const common = {
    REDIS_URL: redis.url,
    QUEUE_PREFIX: queuePrefix,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
  };
  const fortellis = {
    FORTELLIS_ISSUER:
      process.env.FORTELLIS_ISSUER ?? `http://127.0.0.1:${await freePort()}/oauth2/dev`,
    FORTELLIS_CLIENT_ID: process.env.FORTELLIS_CLIENT_ID ?? 'dev-provider-client',
  };
  const definitions = [
    ['ingress', { ...common, ...fortellis, HOST: '127.0.0.1', PORT: String(port) }],
    [
      'approval-worker',
      {
        ...common,
        MONGODB_URL: mongo.url,
        FORTELLIS_CALLBACK_BASE_URL:
          process.env.FORTELLIS_CALLBACK_BASE_URL ?? 'http://127.0.0.1:9',
        FORTELLIS_TOKEN_URL:
          process.env.FORTELLIS_TOKEN_URL ?? `${fortellis.FORTELLIS_ISSUER}/v1/token`,
        FORTELLIS_CLIENT_ID: fortellis.FORTELLIS_CLIENT_ID,
        FORTELLIS_CLIENT_SECRET: process.env.FORTELLIS_CLIENT_SECRET ?? 'dev-provider-secret',
      },
    ],
    ['deprovision-worker', { ...common, MONGODB_URL: mongo.url, BACKEND_DEPROVISIONER: 'none' }],
  ] as const;
  for (const [name, env] of definitions) {
    const service = await startService(name, env);
    services.push(service);
    relay(name, service);
  }
  process.stdout.write(
    [
      '',
      `redis:    ${redis.url} (${redis.source})`,
      `mongodb:  ${mongo.url} (${mongo.source})`,
      `ingress:  http://127.0.0.1:${port}  (try: curl -s http://127.0.0.1:${port}/health)`,
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
} catch (error) {
  process.stderr.write(`dev: ${error instanceof Error ? error.message : String(error)}\n`);
  await stopAll();
  process.exit(1);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stdout.write('\nstopping…\n');
    void stopAll().then(() => process.exit(0));
  });
}
