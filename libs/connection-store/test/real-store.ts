// The repository on the real MongoDB-wire server and Redis the tests run, in its own namespace,
// and activations with distinct connection ids: what the store's tests share.
import { inject } from 'vitest';
import { Redis } from 'ioredis';
import { MongoClient, type CommandStartedEvent } from 'mongodb';
import type { ActivateRequest } from '@fortellis-admin/contracts';
import { ConnectionRepository, type Decision } from '@fortellis-admin/connection-store';
import { createTestNamespace, tutorialCurlPayload } from '@fortellis-admin/test-support';

export interface RealStore {
  mongo: MongoClient;
  dbName: string;
  repo: ConnectionRepository;
  /** Drops the namespace's database and closes the clients. */
  close(): Promise<void>;
}

/**
 * Opens the repository (indexes ensured); `onCommand` sees every command sent, when given, with
 * the namespace's database name.
 */
export async function openRealStore(
  label: string,
  onCommand?: (event: CommandStartedEvent, dbName: string) => void,
): Promise<RealStore> {
  const ns = createTestNamespace(label);
  const mongo = new MongoClient(inject('mongoUrl'), { monitorCommands: onCommand !== undefined });
  if (onCommand !== undefined) mongo.on('commandStarted', (event) => onCommand(event, ns.dbName));
  await mongo.connect();
  const redis = new Redis(inject('redisUrl'));
  const repo = ConnectionRepository.locked(mongo.db(ns.dbName), redis, ns.queuePrefix);
  await repo.ensureIndexes();
  return {
    mongo,
    dbName: ns.dbName,
    repo,
    close: async () => {
      await mongo.db(ns.dbName).dropDatabase();
      await mongo.close();
      redis.disconnect();
    },
  };
}

/** Activations from the tutorial's payload, each with a connection id of its own. */
export function activations(idPrefix: string): () => ActivateRequest {
  let counter = 0;
  return () => {
    counter += 1;
    const payload: ActivateRequest = structuredClone(tutorialCurlPayload);
    payload.connectionId = `${idPrefix}${counter.toString(16).padStart(12, '0')}`;
    return payload;
  };
}

/** The rules' approval, with the callback's lease taken on insert. */
export const approvedByRules = (): { decision: Decision; callbackLeaseMs: number } => ({
  decision: { action: 'approve', ruleId: 'default', decidedBy: 'rules', decidedAt: new Date() },
  callbackLeaseMs: 10_000,
});
