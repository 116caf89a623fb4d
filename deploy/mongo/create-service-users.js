// Runs once, on the first start of docker compose's mongo (the image runs the scripts of
// /docker-entrypoint-initdb.d before authentication is on): one user per service that uses
// MongoDB, each allowed to read and write the system's database and nothing else. The ingress has
// none: it never uses MongoDB. The passwords come from the mongo service's environment.
/* global db, process */
const database = process.env.MONGODB_DATABASE || 'fortellis_admin';
const admin = db.getSiblingDB('admin');
for (const [user, variable] of [
  ['operations', 'MONGO_OPERATIONS_PASSWORD'],
  ['approval-worker', 'MONGO_APPROVAL_WORKER_PASSWORD'],
  ['deprovision-worker', 'MONGO_DEPROVISION_WORKER_PASSWORD'],
]) {
  const pwd = process.env[variable];
  if (!pwd) throw new Error(`${variable} is not set: the password of MongoDB user ${user}`);
  admin.createUser({ user, pwd, roles: [{ role: 'readWrite', db: database }] });
}
