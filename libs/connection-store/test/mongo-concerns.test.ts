// What the repository asks of a replica set, as it goes over the wire: every write of a connection
// (a decision, a lease, a call's end) with majority write concern, journaled; every read with read
// concern `majority`, which cannot see a write a failover later rolls back. The test drives every
// repository operation against the real server with command monitoring on, so a store that opens
// its own collection, or an option lost in a refactor, fails here; that the operations succeed
// shows the server accepts both (FerretDB v1 accepts and ignores them: it has no replicas).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandStartedEvent, Document } from 'mongodb';
import { CONNECTIONS_COLLECTION } from '@fortellis-admin/connection-store';
import { everyOperation } from './every-operation.ts';
import { openRealStore, type RealStore } from './real-store.ts';

const WRITES = new Set(['insert', 'update', 'delete', 'findAndModify']);
const READS = new Set(['find', 'aggregate', 'count', 'distinct']);

/** Each command the repository sent to the connections collection. */
const sent: Array<{ command: string; body: Document }> = [];
let store: RealStore;

function record(event: CommandStartedEvent, dbName: string): void {
  if (event.databaseName !== dbName) return;
  if (event.command[event.commandName] !== CONNECTIONS_COLLECTION) return;
  sent.push({ command: event.commandName, body: event.command });
}

beforeAll(async () => {
  store = await openRealStore('concerns', record);
});
afterAll(() => store.close());

describe('the concerns the connections are read and written with', () => {
  it('sends every write with w: majority, journaled, and every read with read concern majority', async () => {
    await everyOperation(store.repo, '6d2f0000-0000-4000-8000-');
    const writes = sent.filter((c) => WRITES.has(c.command));
    const reads = sent.filter((c) => READS.has(c.command));
    // Every kind of write and read the services use was seen, so the check below covers them.
    expect(new Set(writes.map((c) => c.command))).toEqual(new Set(['insert', 'findAndModify']));
    expect(new Set(reads.map((c) => c.command))).toEqual(new Set(['find']));
    for (const write of writes)
      expect({ command: write.command, writeConcern: write.body.writeConcern }).toEqual({
        command: write.command,
        writeConcern: { w: 'majority', j: true, wtimeout: 10_000 },
      });
    for (const read of reads)
      expect({ command: read.command, readConcern: read.body.readConcern }).toEqual({
        command: read.command,
        readConcern: { level: 'majority' },
      });
  });
});
