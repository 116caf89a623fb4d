// Counts the commands a service sends to its databases, for /metrics and the loop benchmark:
// MongoDB through the driver's command monitoring, Redis by wrapping the client's sendCommand
// (ioredis has no monitoring events; pipelines and MULTI go through sendCommand too). The
// BullMQ connections are not wrapped: the benchmark reads Redis's own totals beside these and
// shows BullMQ's share apart.
import type { Redis } from 'ioredis';
import type { MongoClient } from 'mongodb';
import { Counter, type Registry } from 'prom-client';

function counter(registry: Registry, name: string, help: string, labelNames: string[]): Counter {
  const existing = registry.getSingleMetric(name);
  if (existing !== undefined) return existing as Counter;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

/** Counts every command `client` starts; the client must be created with `monitorCommands`. */
export function countMongoCommands(client: MongoClient, registry: Registry): void {
  const commands = counter(registry, 'mongodb_commands_total', 'MongoDB commands sent, by name', [
    'command',
  ]);
  client.on('commandStarted', (event) => commands.inc({ command: event.commandName }));
}

/** Counts every command sent on `redis`, labelled with what the connection is for. */
export function countRedisCommands(redis: Redis, registry: Registry, client: string): void {
  const commands = counter(
    registry,
    'redis_commands_total',
    "Redis commands sent by the service's own code (not BullMQ's), by connection and name",
    ['client', 'command'],
  );
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = (command, stream) => {
    commands.inc({ client, command: command.name });
    return send(command, stream);
  };
}
