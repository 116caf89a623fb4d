// What the Redis topology launchers ask their nodes: one command on a short-lived connection that
// gives up on a stalled (SIGSTOP) node, INFO parsed, and a poll with a deadline.
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';

/** One command on a new connection; a stalled server fails it after `timeoutMs`. */
export async function ask(
  port: number,
  command: string,
  args: ReadonlyArray<string | number> = [],
  timeoutMs = 1000,
): Promise<unknown> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    // A stalled server accepts the TCP connection (the kernel does), so only the command times out.
    enableReadyCheck: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return await client.call(command, ...args);
  } finally {
    client.disconnect();
  }
}

/** `INFO <section>` (or `CLUSTER INFO`) of the node at `port`, as a map. */
export async function askInfo(
  port: number,
  command: 'INFO' | 'CLUSTER',
  section: string,
): Promise<Map<string, string>> {
  const reply = await ask(port, command, [section]);
  if (typeof reply !== 'string') throw new Error(`${command} ${section} gave no text`);
  return parseInfo(reply);
}

/** `INFO`'s `key:value` lines as a map. */
export function parseInfo(text: string): Map<string, string> {
  const entries = text
    .split(/\r?\n/)
    .filter((line) => line !== '' && !line.startsWith('#') && line.includes(':'))
    .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)] as const);
  return new Map(entries);
}

/** `master` or `slave` as the node says, or undefined when it does not answer. */
export async function roleOf(port: number): Promise<string | undefined> {
  try {
    return (await askInfo(port, 'INFO', 'replication')).get('role');
  } catch {
    return undefined;
  }
}

/** Polls `check` every 100 ms until it gives a value; a failing check counts as "not yet". */
export async function until<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: Error | undefined;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error instanceof Error ? error : new Error(String(error));
    }
    if (Date.now() > deadline)
      throw new Error(`no ${what} after ${timeoutMs} ms${last ? `: ${last.message}` : ''}`, {
        cause: last,
      });
    await delay(100);
  }
}
