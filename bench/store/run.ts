// How the local MongoDB-wire server's cost grows with the data: the reads and writes the
// connection store makes, timed on a collection of connection documents at each size, for each
// backend side by side in one run: FerretDB on SQLite, FerretDB on PostgreSQL with its own indexes
// only (the baseline), and FerretDB on PostgreSQL with the look-up indexes the test infrastructure
// installs. A MONGODB_URL, when set, is measured too (real MongoDB, say).
//
//   npm run bench:store [-- --sizes 1000,20000 --sqlite-sizes 300,3000 --operations 100]
import { parseArgs } from 'node:util';
import { MongoClient, type Collection } from 'mongodb';
import { ActivationGenerator } from '@fortellis-admin/simulator';
import {
  DEFAULT_POSTGRESQL_URL,
  postgresAnswers,
  startLocalFerretDb,
  startLocalFerretDbOnPostgres,
  type Endpoint,
} from '@fortellis-admin/test-support';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,20000' },
    // SQLite scans on every update: at 20,000 one run would take the better part of an hour.
    'sqlite-sizes': { type: 'string', default: '300,3000' },
    operations: { type: 'string', default: '100' },
  },
});
const sizes = values.sizes.split(',').map(Number);
const sqliteSizes = values['sqlite-sizes'].split(',').map(Number);
const operations = Number(values.operations);

interface Doc {
  _id: string;
  connectionId: string;
  subscriptionId: string;
  state: string;
  version: number;
  activation: unknown;
  history: Array<{ at: Date; event: string; by: string }>;
  createdAt: Date;
  updatedAt: Date;
}

async function fill(collection: Collection<Doc>, size: number) {
  const generator = new ActivationGenerator(size);
  const ids: string[] = [];
  const subscriptions: string[] = [];
  const now = new Date();
  await collection.createIndex({ subscriptionId: 1, createdAt: -1 }, { name: 'subscription' });
  await collection.createIndex({ state: 1, updatedAt: -1 }, { name: 'state' });
  for (let done = 0; done < size; done += 1000) {
    const batch: Doc[] = [];
    for (let i = done; i < Math.min(size, done + 1000); i += 1) {
      const activation = generator.next();
      ids.push(activation.connectionId.toLowerCase());
      subscriptions.push(activation.subscriptionId);
      const entry = { at: now, event: 'accepted', by: 'approval-worker' };
      batch.push({
        _id: activation.connectionId.toLowerCase(),
        connectionId: activation.connectionId,
        subscriptionId: activation.subscriptionId,
        state: 'accepted',
        version: 4,
        activation,
        history: [entry, entry, entry, entry],
        createdAt: now,
        updatedAt: now,
      });
    }
    await collection.insertMany(batch);
  }
  return { ids, subscriptions };
}

async function msPer(work: (i: number) => Promise<unknown>): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < operations; i += 1) await work(i);
  return (performance.now() - started) / operations;
}

async function measure(url: string, size: number): Promise<number[]> {
  const client = new MongoClient(url);
  await client.connect();
  const db = client.db(`bench_store_${size}`);
  try {
    const collection = db.collection<Doc>('connections');
    const { ids, subscriptions } = await fill(collection, size);
    const pick = (list: string[], i: number) => list[(i * 7919) % list.length] ?? '';
    return [
      await msPer((i) => collection.findOne({ _id: pick(ids, i) })),
      await msPer((i) =>
        collection.findOneAndUpdate(
          { _id: pick(ids, i) },
          { $set: { updatedAt: new Date() }, $inc: { version: 1 } },
          { returnDocument: 'after' },
        ),
      ),
      await msPer((i) =>
        collection
          .find({ subscriptionId: pick(subscriptions, i), _id: { $ne: 'none' } })
          .project({ _id: 1 })
          .sort({ createdAt: 1 })
          .toArray(),
      ),
      await msPer((i) =>
        collection.insertOne({
          _id: `new-${i}`,
          connectionId: `new-${i}`,
          subscriptionId: 'none',
          state: 'received',
          version: 1,
          activation: null,
          history: [],
          createdAt: new Date(),
          updatedAt: new Date(),
        }),
      ),
    ];
  } finally {
    await db.dropDatabase();
    await client.close();
  }
}

const backends: Array<[string, () => Promise<Endpoint>, number[]]> = [
  ['FerretDB on SQLite', () => startLocalFerretDb(), sqliteSizes],
];
if (postgresAnswers(DEFAULT_POSTGRESQL_URL)) {
  backends.push(
    [
      'FerretDB on PostgreSQL, its own indexes (baseline)',
      () => startLocalFerretDbOnPostgres(DEFAULT_POSTGRESQL_URL, { lookupIndexes: false }),
      sizes,
    ],
    [
      'FerretDB on PostgreSQL, look-up indexes',
      () => startLocalFerretDbOnPostgres(DEFAULT_POSTGRESQL_URL),
      sizes,
    ],
  );
}
const given = process.env.MONGODB_URL?.trim();
if (given)
  backends.push([
    'MONGODB_URL',
    async () => ({ url: given, source: 'env', stop: async () => {} }),
    sizes,
  ]);

const OPERATIONS = ['findOne _id', 'findOneAndUpdate _id', 'find subscriptionId', 'insertOne'];
console.log(`bench:store: ms per operation, ${operations} operations each\n`);
console.log(
  ['backend'.padEnd(52), 'stored'.padStart(7), ...OPERATIONS.map((o) => o.padStart(21))].join(' '),
);
for (const [name, start, stored] of backends) {
  const endpoint = await start();
  try {
    for (const size of stored) {
      const figures = await measure(endpoint.url, size);
      console.log(
        [
          name.padEnd(52),
          String(size).padStart(7),
          ...figures.map((ms) => ms.toFixed(2).padStart(21)),
        ].join(' '),
      );
    }
  } finally {
    await endpoint.stop();
  }
}
