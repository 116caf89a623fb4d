// Counts the commands a service sends to its databases, for /metrics and the loop benchmark:
// MongoDB through the driver's command monitoring, Redis by wrapping the client's sendCommand
// (ioredis has no monitoring events; pipelines and MULTI go through sendCommand too). The
// BullMQ connections are not wrapped: the benchmark reads Redis's own totals beside these and
// shows BullMQ's share apart.
import type { Cluster, Redis } from 'ioredis';
import type { MongoClient } from 'mongodb';
import type { Registry } from 'prom-client';
import { createMetric } from './metric-catalog.ts';

/** Counts every command `client` starts; the client must be created with `monitorCommands`. */
export function countMongoCommands(client: MongoClient, registry: Registry): void {
  const commands = createMetric(registry, 'mongodbCommands');
  client.on('commandStarted', (event) => commands.inc({ command: event.commandName }));
}

/** Counts every command sent on `redis`, labelled with what the connection is for. */
export function countRedisCommands(
  redis: Redis | Cluster,
  registry: Registry,
  client: string,
): void {
  const commands = createMetric(registry, 'redisCommands');
  // A Cluster's sendCommand takes a third argument (the node of a pipeline): passed on as given.
  const target = redis as unknown as { sendCommand: (...args: unknown[]) => unknown };
  const send = target.sendCommand.bind(redis);
  target.sendCommand = (...args: unknown[]) => {
    commands.inc({ client, command: (args[0] as { name: string }).name });
    return send(...args);
  };
}
