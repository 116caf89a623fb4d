// Every query the services send to the connections collection is served by an index that
// `ensureIndexes` declares, so its cost stays flat as connections pile up. The queries are not
// listed by hand: the test drives every repository operation against the real server with command
// monitoring on, records each filter and sort that went over the wire, and matches each shape to
// an index the way MongoDB's planner can use one (a leading key the filter constrains, or, with
// no usable condition, a key prefix that gives the sort). A new query on an unindexed field
// fails here. Where the server is MongoDB (not FerretDB, whose planner differs), it also asks
// `explain()` of every recorded query and fails on a collection scan.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandStartedEvent, Document } from 'mongodb';
import {
  CONNECTIONS_COLLECTION,
  type ConnectionRepository,
} from '@fortellis-admin/connection-store';
import { everyOperation } from './every-operation.ts';
import { openRealStore, type RealStore } from './real-store.ts';

/** Each query sent to the connections collection: its command, filter and sort. */
const sent: Array<{ command: string; filter: Document; sort?: Document }> = [];
let store: RealStore;
let repo: ConnectionRepository;

/** Records each query the repository sends to the collection. */
function record(event: CommandStartedEvent, dbName: string): void {
  const body = event.command;
  // The driver sends a sort as a Map, to keep its order.
  if (body.sort instanceof Map) body.sort = Object.fromEntries(body.sort);
  const target = body[event.commandName];
  if (event.databaseName !== dbName || target !== CONNECTIONS_COLLECTION) return;
  if (event.commandName === 'find' || event.commandName === 'count')
    sent.push({
      command: event.commandName,
      filter: body.filter ?? body.query ?? {},
      sort: body.sort,
    });
  if (event.commandName === 'findAndModify')
    sent.push({ command: 'findAndModify', filter: body.query ?? {}, sort: body.sort });
  if (event.commandName === 'update' || event.commandName === 'delete')
    for (const statement of body.updates ?? body.deletes ?? [])
      sent.push({ command: event.commandName, filter: statement.q ?? {} });
}

beforeAll(async () => {
  store = await openRealStore('indexes', record);
  ({ repo } = store);
});
afterAll(() => store.close());

/** What one branch of a filter (the whole filter, or one `$or` branch with the rest) pins down. */
interface Bounds {
  /** Fields held to one value (or a list of values). */
  eq: Set<string>;
  /** Fields held to a range. */
  range: Set<string>;
}

/** The branches of a filter, each with the fields an index could bound it by. */
function branchesOf(filter: Document): Bounds[] {
  const own: Bounds = { eq: new Set(), range: new Set() };
  for (const [field, condition] of Object.entries(filter)) {
    if (field.startsWith('$')) continue;
    const operators =
      condition === null || typeof condition !== 'object' || condition instanceof Date
        ? []
        : Object.keys(condition as Document);
    if (operators.length === 0 || operators.includes('$eq') || operators.includes('$in'))
      own.eq.add(field);
    else if (operators.some((op) => ['$lt', '$lte', '$gt', '$gte'].includes(op)))
      own.range.add(field);
  }
  const ors = (filter.$or as Document[] | undefined)?.flatMap(branchesOf) ?? [
    { eq: new Set<string>(), range: new Set<string>() },
  ];
  return ors.map((branch) => ({
    eq: new Set([...own.eq, ...branch.eq]),
    range: new Set([...own.range, ...branch.range]),
  }));
}

/**
 * Whether `index` serves one branch: its leading keys are the fields held to one value, and
 * the keys after them give the sort (in order or reversed; sort keys held to one value need no
 * order); without a sort, its leading key bounds the scan.
 */
function serves(index: { key: Document }, branch: Bounds, sort: Array<[string, number]>): boolean {
  const keys = Object.entries(index.key) as Array<[string, number]>;
  if (sort.length === 0) return branch.eq.has(keys[0]![0]) || branch.range.has(keys[0]![0]);
  let pinned = 0;
  while (pinned < keys.length && branch.eq.has(keys[pinned]![0])) pinned += 1;
  if (branch.eq.size > 0 && pinned === 0) return false;
  const rest = sort.filter(([field]) => !branch.eq.has(field));
  if (rest.length === 0) return pinned > 0;
  const tail = keys.slice(pinned, pinned + rest.length);
  if (tail.length < rest.length) return false;
  const same = tail.every(([k, d], i) => k === rest[i]![0] && d === rest[i]![1]);
  const reversed = tail.every(([k, d], i) => k === rest[i]![0] && d === -rest[i]![1]);
  return same || reversed;
}

/** The declared indexes that serve a query (one per branch), or undefined when one has none. */
function servingIndex(
  query: { filter: Document; sort?: Document },
  indexes: Array<{ name: string; key: Document }>,
): string | undefined {
  const sort = Object.entries(query.sort ?? {}) as Array<[string, number]>;
  const names = branchesOf(query.filter).map(
    (branch) => indexes.find((index) => serves(index, branch, sort))?.name,
  );
  return names.every((name) => name !== undefined) ? [...new Set(names)].join('+') : undefined;
}

/** A query's shape: its command, the fields and operators of its filter, and its sort. */
function shapeOf(query: { command: string; filter: Document; sort?: Document }): string {
  const shape = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.length > 0 ? [shape(value[0])] : [];
    if (value === null || typeof value !== 'object' || value instanceof Date) return '?';
    return Object.fromEntries(
      Object.entries(value as Document)
        .sort(([x], [y]) => x.localeCompare(y))
        .map(([k, v]) => [k, shape(v)]),
    );
  };
  return `${query.command} ${JSON.stringify(shape(query.filter))}${
    query.sort === undefined ? '' : ` sort ${JSON.stringify(query.sort)}`
  }`;
}

describe('index coverage of the connections collection', () => {
  it('serves every query the repository sends from a declared index', async () => {
    await everyOperation(repo, '5c1e0000-0000-4000-8000-');
    const indexes = (
      await store.mongo.db(store.dbName).collection(CONNECTIONS_COLLECTION).indexes()
    ).map((index) => ({ name: index.name as string, key: index.key }));
    const shapes = new Map<string, string | undefined>();
    for (const query of sent) shapes.set(shapeOf(query), servingIndex(query, indexes));
    // The table, for the reader: each query shape beside the index that serves it.
    console.log(
      [...shapes].map(([shape, index]) => `${(index ?? 'NONE').padEnd(24)} ${shape}`).join('\n'),
    );
    expect(shapes.size).toBeGreaterThan(10);
    expect([...shapes].filter(([, index]) => index === undefined).map(([shape]) => shape)).toEqual(
      [],
    );

    const info = await store.mongo.db('admin').command({ buildInfo: 1 });
    if (typeof info.ferretdbVersion === 'string') return; // explain() plans are MongoDB's alone
    const scans: string[] = [];
    for (const query of sent.filter((q) => q.command === 'find')) {
      const plan = await store.mongo
        .db(store.dbName)
        .collection(CONNECTIONS_COLLECTION)
        .find(query.filter, query.sort === undefined ? {} : { sort: query.sort })
        .explain('queryPlanner');
      if (JSON.stringify(plan.queryPlanner?.winningPlan).includes('COLLSCAN'))
        scans.push(shapeOf(query));
    }
    expect(scans).toEqual([]);
  });
});
