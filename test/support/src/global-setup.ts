// vitest global set-up: resolves Redis and a MongoDB-wire server once per run and hands their URLs
// to every test file through `inject('redisUrl')` / `inject('mongoUrl')`.
import type { TestProject } from 'vitest/node';
import { resolveMongo, resolveRedis } from './infrastructure.ts';

import './provided-context.ts';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [redis, mongo] = await Promise.all([resolveRedis(), resolveMongo()]);
  project.provide('redisUrl', redis.url);
  project.provide('mongoUrl', mongo.url);
  console.log(
    `test infrastructure: redis ${redis.source} ${redis.url}, mongo ${mongo.source} ${mongo.backend ?? ''} ${mongo.url}`,
  );
  return async () => {
    await Promise.all([redis.stop(), mongo.stop()]);
  };
}
