// Counts the commands a service sends to its databases, for /metrics and the loop benchmark:
// MongoDB through the driver's command monitoring, Redis by wrapping the client's sendCommand
// (ioredis has no monitoring events; pipelines and MULTI go through sendCommand too). The
// BullMQ connections are not wrapped: the benchmark reads Redis's own totals beside these and
// shows BullMQ's share apart.
import type { Redis } from 'ioredis';
import type { MongoClient } from 'mongodb';
import type { Registry } from 'prom-client';
import { createMetric } from './metric-catalog.ts';

/** Counts every command `client` starts; the client must be created with `monitorCommands`. */
export function countMongoCommands(client: MongoClient, registry: Registry): void {
  const commands = createMetric(registry, 'mongodbCommands');
  client.on('commandStarted', (event) => commands.inc({ command: event.commandName }));
}

/** Counts every command sent on `redis`, labelled with what the connection is for. */
export function countRedisCommands(redis: Redis, registry: Registry, client: string): void {
  const commands = createMetric(registry, 'redisCommands');
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = (command, stream) => {
    commands.inc({ client, command: command.name });
    return send(command, stream);
  };
}
