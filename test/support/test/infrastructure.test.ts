// The resolver hands out real servers: a Redis round-trip and a MongoDB-wire round-trip.
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import {
  createTestNamespace,
  dockerAvailable,
  findBinary,
  DEFAULT_POSTGRESQL_URL,
  postgresAnswers,
  resolveRedis,
  startLocalFerretDbOnPostgres,
  startLocalRedis,
} from '../src/index.ts';

const ns = createTestNamespace('infra');

describe('infrastructure resolver', () => {
  const clients: Array<{ quit?: () => Promise<unknown>; close?: () => Promise<void> }> = [];
  afterAll(async () => {
    for (const client of clients) await (client.quit?.() ?? client.close?.());
  });

  it('gives a Redis that stores and returns a value', async () => {
    const redis = new Redis(inject('redisUrl'));
    clients.push(redis);
    const key = `${ns.queuePrefix}:round-trip`;
    await redis.set(key, 'value', 'EX', 60);
    expect(await redis.get(key)).toBe('value');
    expect(await redis.config('GET', 'maxmemory-policy')).toEqual([
      'maxmemory-policy',
      expect.any(String),
    ]);
  });

  it('gives a MongoDB-wire server that stores, updates atomically and finds a document', async () => {
    const client = new MongoClient(inject('mongoUrl'));
    clients.push(client);
    const collection = client.db(ns.dbName).collection<{ _id: string; n: number }>('round_trip');
    await collection.insertOne({ _id: 'a', n: 1 });
    const updated = await collection.findOneAndUpdate(
      { _id: 'a', n: 1 },
      { $inc: { n: 1 } },
      { returnDocument: 'after' },
    );
    expect(updated?.n).toBe(2);
    const stale = await collection.updateOne({ _id: 'a', n: 1 }, { $inc: { n: 1 } });
    expect(stale.modifiedCount).toBe(0);
    await expect(collection.insertOne({ _id: 'a', n: 3 })).rejects.toMatchObject({ code: 11000 });
    await client.db(ns.dbName).dropDatabase();
  });

  it('uses REDIS_URL as given, without starting anything', async () => {
    const endpoint = await resolveRedis({ REDIS_URL: 'redis://example.invalid:6379' });
    expect(endpoint).toMatchObject({ url: 'redis://example.invalid:6379', source: 'env' });
    await endpoint.stop();
  });

  it.runIf(findBinary('redis-server') !== undefined)(
    'starts a private redis-server on a loopback port and stops it',
    async () => {
      const endpoint = await startLocalRedis();
      expect(endpoint.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
      const redis = new Redis(endpoint.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
      await redis.connect();
      expect(await redis.ping()).toBe('PONG');
      redis.disconnect();
      await endpoint.stop();
      const after = new Redis(endpoint.url, {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      after.on('error', () => {});
      await expect(after.connect()).rejects.toThrow();
      after.disconnect();
    },
  );

  it('says no Docker engine answers when DOCKER_HOST points nowhere', async () => {
    const before = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = 'unix:///nonexistent/docker.sock';
    try {
      expect(await dockerAvailable()).toBe(false);
    } finally {
      if (before === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = before;
    }
  });
});

describe('FerretDB on the local PostgreSQL', () => {
  it('gives every collection it creates the look-up indexes, and drops its database on stop', async () => {
    const endpoint = await startLocalFerretDbOnPostgres(DEFAULT_POSTGRESQL_URL);
    const client = new MongoClient(endpoint.url);
    let database: string | undefined;
    try {
      await client.connect();
      await client
        .db('lookups')
        .collection('connections')
        .insertOne({ _id: 'a' as never });
      const databases = execFileSync(
        'psql',
        [
          DEFAULT_POSTGRESQL_URL,
          '-At',
          '-c',
          "select datname from pg_database where datname like 'ferretdb_%' order by oid desc limit 1",
        ],
        { encoding: 'utf8' },
      );
      database = databases.trim();
      const url = new URL(DEFAULT_POSTGRESQL_URL);
      url.pathname = `/${database}`;
      const indexes = execFileSync(
        'psql',
        [url.href, '-At', '-c', "select indexdef from pg_indexes where schemaname = 'lookups'"],
        { encoding: 'utf8' },
      );
      for (const field of ['_id', 'subscriptionId', 'connectionId', 'state'])
        expect(indexes).toContain(`gin (((_jsonb -> '${field}'::text)) jsonb_path_ops)`);
    } finally {
      await client.close();
      await endpoint.stop();
    }
    const left = execFileSync(
      'psql',
      [
        DEFAULT_POSTGRESQL_URL,
        '-At',
        '-c',
        `select count(*) from pg_database where datname = '${database ?? ''}'`,
      ],
      { encoding: 'utf8' },
    );
    expect(database).toMatch(/^ferretdb_/);
    expect(left.trim()).toBe('0');
    expect(postgresAnswers(DEFAULT_POSTGRESQL_URL)).toBe(true);
  });
});
