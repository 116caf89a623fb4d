// What a user would otherwise write, for the ingress benchmark: a plain Fastify route that checks
// the bearer token with jose against the remote JWKS, validates the body with ajv against the same
// contract schema, and calls BullMQ's Queue.add once per request, as each library's docs show it.
// No token cache, no batching, no fence, no durability check: it trusts Redis to keep what it adds.
import Fastify from 'fastify';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { Queue } from 'bullmq';
import {
  activateRequestSchema,
  createAjv,
  jobIdFor,
  JOB_NAMES,
  JOB_OPTIONS,
  QUEUE_OF_JOB,
  type ActivateRequest,
} from '@fortellis-admin/contracts';

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is required`);
  return value;
};
const issuer = env('FORTELLIS_ISSUER');
const audience = env('FORTELLIS_AUDIENCE');
const clientId = env('FORTELLIS_CLIENT_ID');
const redisUrl = new URL(env('REDIS_URL'));

const JWKS = createRemoteJWKSet(new URL(env('FORTELLIS_JWKS_URL')));
const validate = createAjv().compile<ActivateRequest>(activateRequestSchema);
const queue = new Queue(QUEUE_OF_JOB[JOB_NAMES.activationReceived], {
  connection: { host: redisUrl.hostname, port: Number(redisUrl.port) },
  prefix: env('QUEUE_PREFIX'),
});

const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
app.post('/activate', async (request, reply) => {
  const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
  if (token === undefined) return reply.code(403).send({ message: 'a bearer token is required' });
  let payload;
  try {
    ({ payload } = await jwtVerify(token, JWKS, {
      algorithms: ['RS256'],
      issuer,
      audience,
      subject: clientId,
      clockTolerance: 60,
      requiredClaims: ['exp', 'sub'],
    }));
  } catch {
    return reply.code(403).send({ message: 'the bearer token is not valid' });
  }
  if (!validate(request.body)) return reply.code(400).send({ errors: validate.errors });
  const activation = request.body;
  const job = {
    activation,
    requestId: request.id,
    receivedAt: new Date().toISOString(),
    token: { jti: typeof payload.jti === 'string' ? payload.jti : '', sub: payload.sub ?? '' },
  };
  await queue.add(JOB_NAMES.activationReceived, job, {
    ...JOB_OPTIONS,
    jobId: jobIdFor.activationReceived(job),
  });
  return {
    links: [
      { href: `/activate`, rel: 'self', method: 'POST' },
      { href: `/deactivate/${activation.connectionId}`, rel: 'deactivate', method: 'POST' },
    ],
  };
});
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
process.stdout.write('"msg":"plain started"\n');
process.once(
  'SIGTERM',
  () => void Promise.all([app.close(), queue.close()]).then(() => process.exit(0)),
);
