// A service logger whose lines are kept in memory, so tests can read what was logged.
import { Writable } from 'node:stream';
import { type Logger } from '@fortellis-admin/service-kit';
import { createLogger } from '@fortellis-admin/service-kit';

export function capturingLogger(service: string): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { logger: createLogger(service, 'info', sink), lines };
}
