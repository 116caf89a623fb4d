// Runs the shipped deploy/mongo/create-service-users.js (a mongosh script that mongo:8's entry
// point runs on the first start) against the FerretDB stand-in, with Node and the MongoDB driver
// of the operations image in place of mongosh: its `db.getSiblingDB(name).createUser(spec)` calls
// become `createUser` commands, sent as the root user FerretDB was set up with.
// One deviation: FerretDB v1 has users (SCRAM) but no roles, and refuses a non-empty `roles`;
// the roles are dropped, so each user authenticates with its own password but may use any database.
/* global process */
import { readFile } from 'node:fs/promises';
import { MongoClient } from 'mongodb';

const SCRIPT = '/docker-entrypoint-initdb.d/create-service-users.js';
// MongoDB's code for "User ... already exists": a restarted stack keeps its users, as mongo's
// entry point does (it runs the init scripts on the first start only).
const USER_EXISTS = 51003;

const url = process.env.MONGO_ADMIN_URL;
if (!url) throw new Error('MONGO_ADMIN_URL is not set');
const client = new MongoClient(url, { serverSelectionTimeoutMS: 30_000 });
try {
  await client.connect();
  const calls = [];
  const db = {
    getSiblingDB: (name) => ({
      createUser: ({ user, ...spec }) => calls.push({ name, user, spec }),
    }),
  };
  new Function('db', 'process', await readFile(SCRIPT, 'utf8'))(db, process);
  for (const { name, user, spec } of calls) {
    try {
      await client.db(name).command({ createUser: user, ...spec, roles: [] });
      process.stdout.write(`created MongoDB user ${user} in ${name}\n`);
    } catch (error) {
      if (error?.code !== USER_EXISTS) throw error;
      process.stdout.write(`MongoDB user ${user} exists\n`);
    }
  }
} finally {
  await client.close();
}
