// The simulator of the outside parties, over real HTTP on a loopback port: Fortellis identity and
// subscriptions, the integration platform, and the provider's backend, with scriptable faults.
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { contracts } from '@fortellis-admin/contracts';
import { FaultScript, type Endpoint } from './fault-script.ts';
import {
  DEFAULT_SERVER_ID,
  IdentityProvider,
  type ClientCredentials,
} from './identity-provider.ts';
import { Recorder, type RecordedCall } from './recorder.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    endpoint?: Endpoint;
  }
  interface FastifyRequest {
    simCall?: RecordedCall;
  }
}

export interface SimulatorOptions {
  /** Loopback address to listen on. Default 127.0.0.1. */
  host?: string;
  /** Port; 0 (default) picks a free one. */
  port?: number;
  /**
   * The URL the services reach the simulator at, when it is not `http://{host}:{port}` (in a
   * container: `http://simulator:4010`). Issuer, JWKS, token and callback URLs are built on it.
   */
  publicUrl?: string;
  /** Fortellis authorization server id. Default production's. */
  serverId?: string;
  /** The provider API's client at Fortellis: `sub` of tokens sent to the provider, and the client of the callback's token. */
  providerClient?: ClientCredentials;
  /** The provider's client at the integration platform. */
  integrationClient?: ClientCredentials;
  /** Tenant the integration platform's tokens belong to. */
  integrationTenantId?: string;
  /** When set, the backend's provision and deprovision endpoints require this header value. */
  backendAuth?: { header: string; value: string };
}

/** An account the simulated provider backend created for a connection. */
export interface BackendAccount {
  accountId: string;
  /** The Idempotency-Key it was created under (the connection id). */
  idempotencyKey: string;
  connectionId: string;
  credentials: Record<string, string>;
  createdAt: Date;
  /** How many provisioning calls asked for it (1 + repeats answered from the first). */
  requests: number;
  /** Set once a deprovisioning removed it. */
  deprovisionedAt?: Date;
}

/**
 * The key the services seal provisioned credentials with in tests and in `npm run dev` (base64 of
 * 32 bytes): a fixed test value, never a deployment's.
 */
export const TEST_CREDENTIALS_KEY = Buffer.alloc(32, 'fortellis-admin-test-only-key').toString(
  'base64',
);

export const DEFAULT_PROVIDER_CLIENT: ClientCredentials = Object.freeze({
  clientId: 'sim-provider-client',
  clientSecret: 'sim-provider-secret',
});

export const DEFAULT_INTEGRATION_CLIENT: ClientCredentials = Object.freeze({
  clientId: 'sim-integration-client',
  clientSecret: 'sim-integration-secret',
});

/** Lifetime of integration-platform tokens: about two hours, as documented. */
export const INTEGRATION_TOKEN_TTL_SECONDS = 7200;

/** A running simulator. */
export interface Simulator {
  readonly url: string;
  readonly identity: IdentityProvider;
  readonly faults: FaultScript;
  readonly providerClient: ClientCredentials;
  readonly integrationClient: ClientCredentials;
  readonly integrationTenantId: string;
  /** Calls received, per endpoint, oldest first. */
  calls(endpoint?: Endpoint): RecordedCall[];
  count(endpoint: Endpoint): number;
  /** Forgets every integration-platform token, as if they had expired. */
  expireIntegrationTokens(): void;
  /** The accounts the simulated backend holds, oldest first (deprovisioned ones included). */
  backendAccounts(): BackendAccount[];
  /** Environment variables that point the three services at this simulator. */
  env(): Record<string, string>;
  stop(): Promise<void>;
}

function basicCredentials(request: FastifyRequest): { id: string; secret: string } | undefined {
  const header = request.headers.authorization;
  if (header?.startsWith('Basic ') !== true) return undefined;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return {
    id: decodeURIComponent(decoded.slice(0, colon)),
    secret: decodeURIComponent(decoded.slice(colon + 1)),
  };
}

/**
 * A JSON object of exactly `bytes` bytes (at least 12): whole, or as a stream of 16 KiB chunks
 * that carries no length.
 */
function oversizedBody(bytes: number, chunked: boolean): Buffer | Readable {
  const open = Buffer.from('{"pad":"');
  const close = Buffer.from('"}');
  const pad = Math.max(0, bytes - open.length - close.length);
  if (!chunked) return Buffer.concat([open, Buffer.alloc(pad, 'x'), close]);
  const chunk = Buffer.alloc(16 * 1024, 'x');
  return Readable.from(
    (function* () {
      yield open;
      for (let left = pad; left > 0; left -= chunk.length)
        yield left >= chunk.length ? chunk : chunk.subarray(0, left);
      yield close;
    })(),
  );
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  return header?.startsWith('Bearer ') === true ? header.slice(7) : undefined;
}

function lowerCaseHeaders(request: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined)
      out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** Starts the simulator on a loopback port. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const identity = new IdentityProvider(options.serverId ?? DEFAULT_SERVER_ID);
  const providerClient = options.providerClient ?? DEFAULT_PROVIDER_CLIENT;
  const integrationClient = options.integrationClient ?? DEFAULT_INTEGRATION_CLIENT;
  const integrationTenantId = options.integrationTenantId ?? 'ede9f834-70b3-476c-83d9-736f9f8c7dae';
  identity.registerClient(providerClient);
  const faults = new FaultScript();
  const recorder = new Recorder();
  const integrationTokens = new Map<string, number>();
  const accounts = new Map<string, BackendAccount>();

  const app: FastifyInstance = Fastify({
    logger: false,
    forceCloseConnections: true,
    bodyLimit: 1024 * 1024,
  });
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    },
  );
  app.decorateRequest('simCall', undefined);

  app.addHook('preHandler', async (request, reply) => {
    const endpoint = request.routeOptions.config.endpoint;
    if (endpoint === undefined) return;
    const call = recorder.add({
      endpoint,
      method: request.method,
      path: request.url.split('?')[0] ?? request.url,
      query: { ...(request.query as Record<string, string>) },
      headers: lowerCaseHeaders(request),
      body: request.body,
      params: { ...(request.params as Record<string, string>) },
      at: new Date(),
    });
    request.simCall = call;
    const fault = faults.take(endpoint);
    if (fault === undefined) return;
    call.fault = fault;
    switch (fault.kind) {
      case 'status': {
        const retryAfter = fault.retryAfter ?? fault.retryAfterSeconds?.toString();
        if (retryAfter !== undefined) void reply.header('retry-after', retryAfter);
        return reply
          .code(fault.status)
          .type('application/json')
          .send(fault.body ?? JSON.stringify({ code: fault.status, message: 'simulated failure' }));
      }
      case 'oversized':
        return reply
          .code(fault.status)
          .type('application/json')
          .send(oversizedBody(fault.bytes, fault.chunked === true));
      case 'delay':
        await delay(fault.ms);
        return;
      case 'hang':
        reply.hijack();
        return;
      case 'reset':
        reply.hijack();
        request.raw.socket.destroy();
        return;
    }
  });
  app.addHook('onResponse', async (request, reply) => {
    if (request.simCall !== undefined) request.simCall.status = reply.statusCode;
  });

  const unauthorized = (reply: FastifyReply, message: string): FastifyReply =>
    reply.code(401).send({ code: 401, message });

  // --- Fortellis identity ---------------------------------------------------------------
  app.get<{ Params: { serverId: string } }>(
    '/oauth2/:serverId/v1/keys',
    { config: { endpoint: 'jwks' } },
    async (request, reply) => {
      if (request.params.serverId !== identity.serverId)
        return reply.code(404).send({ errorCode: 'E0000007' });
      return reply.header('cache-control', 'max-age=3600').send(identity.jwks());
    },
  );

  app.post<{ Params: { serverId: string }; Body: Record<string, string> | undefined }>(
    '/oauth2/:serverId/v1/token',
    { config: { endpoint: 'token' } },
    async (request, reply) => {
      if (request.params.serverId !== identity.serverId)
        return reply.code(404).send({ errorCode: 'E0000007' });
      const credentials = basicCredentials(request);
      if (credentials === undefined || !identity.checkClient(credentials.id, credentials.secret)) {
        return reply.code(401).send({
          error: 'invalid_client',
          error_description: 'The client secret supplied for a confidential client is invalid.',
        });
      }
      if (request.body?.grant_type !== 'client_credentials') {
        return reply.code(400).send({
          error: 'unsupported_grant_type',
          error_description: 'grant_type must be client_credentials',
        });
      }
      const issued = identity.issueAccessToken(credentials.id);
      return reply.header('cache-control', 'no-store').send({
        token_type: 'Bearer',
        expires_in: identity.accessTokenTtlSeconds,
        access_token: issued.token,
        scope: request.body.scope ?? 'anonymous',
      });
    },
  );

  // --- Fortellis subscriptions: the connection callback ------------------------------------
  app.post<{ Params: { connectionId: string } }>(
    '/connections/:connectionId/callback',
    { config: { endpoint: 'callback' } },
    async (request, reply) => {
      const token = bearer(request);
      if (token === undefined || !identity.acceptsAccessToken(token))
        return unauthorized(reply, 'invalid or expired token');
      const issues = contracts.connectionCallbackBody.issues(request.body);
      if (issues.length > 0) {
        return reply
          .code(400)
          .send({ code: 400, message: issues.map((i) => `${i.pointer} ${i.message}`).join('; ') });
      }
      return reply.code(200).type('text/plain').send('OK');
    },
  );

  // --- Integration platform ----------------------------------------------------------------
  app.post<{ Body: Record<string, string> | undefined }>(
    '/api/2/idp/token',
    { config: { endpoint: 'idpToken' } },
    async (request, reply) => {
      const credentials = basicCredentials(request);
      if (
        credentials === undefined ||
        credentials.id !== integrationClient.clientId ||
        credentials.secret !== integrationClient.clientSecret
      ) {
        return reply.code(401).send({ error: 'invalid_client' });
      }
      if (request.body?.grant_type !== 'client_credentials')
        return reply.code(400).send({ error: 'unsupported_grant_type' });
      const token = `idp.${randomUUID()}`;
      integrationTokens.set(token, Date.now() + INTEGRATION_TOKEN_TTL_SECONDS * 1000);
      return reply.send({
        access_token: token,
        token_type: 'bearer',
        expires_in: INTEGRATION_TOKEN_TTL_SECONDS,
      });
    },
  );

  app.post<{ Querystring: { tenantID?: string } }>(
    '/api/integration_management/v2/status',
    { config: { endpoint: 'status' } },
    async (request, reply) => {
      const token = bearer(request);
      const expiresAt = token === undefined ? undefined : integrationTokens.get(token);
      if (expiresAt === undefined || expiresAt <= Date.now())
        return unauthorized(reply, 'invalid or expired token');
      const issues = contracts.integrationStatusBody.issues(request.body);
      if (issues.length > 0) {
        return reply.code(400).send({ error: { code: 'validation', details: issues } });
      }
      return reply.code(204).send();
    },
  );

  // --- Provider backend --------------------------------------------------------------------
  const backendRefusal = (request: FastifyRequest, reply: FastifyReply) => {
    const auth = options.backendAuth;
    if (auth !== undefined && request.headers[auth.header.toLowerCase()] !== auth.value)
      return unauthorized(reply, 'missing or wrong credentials');
    if (request.body === undefined || typeof request.body !== 'object')
      return reply.code(400).send({ code: 400, message: 'a JSON body is required' });
    return undefined;
  };

  // Creates the buyer's account once per Idempotency-Key; a repeat answers the same account.
  app.post('/backend/provision', { config: { endpoint: 'provision' } }, async (request, reply) => {
    const refused = backendRefusal(request, reply);
    if (refused !== undefined) return refused;
    const key = request.headers['idempotency-key'];
    if (typeof key !== 'string' || key === '')
      return reply.code(400).send({ code: 400, message: 'Idempotency-Key is required' });
    const issues = contracts.backendProvisionRequest.issues(request.body);
    if (issues.length > 0) {
      return reply
        .code(400)
        .send({ code: 400, message: issues.map((i) => `${i.pointer} ${i.message}`).join('; ') });
    }
    const body = request.body as { connectionId: string };
    const existing = accounts.get(key);
    if (existing !== undefined) {
      existing.requests += 1;
      return reply
        .code(200)
        .send({ accountId: existing.accountId, credentials: existing.credentials });
    }
    const account: BackendAccount = {
      accountId: `acct-${randomUUID()}`,
      idempotencyKey: key,
      connectionId: body.connectionId,
      credentials: { apiKey: `key-${randomUUID()}`, apiSecret: randomUUID() },
      createdAt: new Date(),
      requests: 1,
    };
    accounts.set(key, account);
    return reply.code(201).send({ accountId: account.accountId, credentials: account.credentials });
  });

  app.post(
    '/backend/deprovision',
    { config: { endpoint: 'deprovision' } },
    async (request, reply) => {
      const refused = backendRefusal(request, reply);
      if (refused !== undefined) return refused;
      // The account by its id, or, when its id was never recorded, by the connection it was
      // provisioned for (the Idempotency-Key of its provisioning).
      const { accountId, connectionId } = request.body as {
        accountId?: unknown;
        connectionId?: unknown;
      };
      const account = [...accounts.values()].find((a) =>
        typeof accountId === 'string'
          ? a.accountId === accountId
          : a.idempotencyKey === connectionId,
      );
      if (account !== undefined) account.deprovisionedAt ??= new Date();
      return reply.send({ status: 'deprovisioned' });
    },
  );

  // --- Control API, for the CLI and for processes that do not hold the simulator object ----
  app.post<{ Body: { sub?: string; ttlSeconds?: number } | undefined }>(
    '/_sim/tokens',
    async (request) => ({
      token: identity.mint(request.body?.sub ?? providerClient.clientId, {
        ...(request.body?.ttlSeconds === undefined ? {} : { ttlSeconds: request.body.ttlSeconds }),
      }),
    }),
  );
  app.get<{ Querystring: { endpoint?: Endpoint } }>('/_sim/calls', async (request) =>
    recorder.calls(request.query.endpoint),
  );
  app.get('/_sim/accounts', async () => [...accounts.values()]);

  await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string')
    throw new Error('simulator has no TCP address');
  const url =
    options.publicUrl?.replace(/\/+$/, '') ??
    `http://${options.host ?? '127.0.0.1'}:${address.port}`;
  identity.baseUrl = url;

  return {
    url,
    identity,
    faults,
    providerClient,
    integrationClient,
    integrationTenantId,
    calls: (endpoint) => recorder.calls(endpoint),
    count: (endpoint) => recorder.count(endpoint),
    expireIntegrationTokens: () => integrationTokens.clear(),
    backendAccounts: () => [...accounts.values()],
    env: () => ({
      FORTELLIS_ISSUER: identity.issuer,
      FORTELLIS_JWKS_URL: identity.jwksUrl,
      FORTELLIS_AUDIENCE: identity.audience,
      FORTELLIS_CLIENT_ID: providerClient.clientId,
      FORTELLIS_CLIENT_SECRET: providerClient.clientSecret,
      FORTELLIS_TOKEN_URL: identity.tokenUrl,
      FORTELLIS_CALLBACK_BASE_URL: url,
      BACKEND_PROVISIONER: 'http',
      BACKEND_PROVISION_URL: `${url}/backend/provision`,
      PROVISIONING_CREDENTIALS_KEY: TEST_CREDENTIALS_KEY,
      BACKEND_DEPROVISIONER: 'http',
      BACKEND_DEPROVISION_URL: `${url}/backend/deprovision`,
      ...(options.backendAuth === undefined
        ? {}
        : {
            BACKEND_PROVISION_HEADER: options.backendAuth.header,
            BACKEND_PROVISION_SECRET: options.backendAuth.value,
            BACKEND_DEPROVISION_HEADER: options.backendAuth.header,
            BACKEND_DEPROVISION_SECRET: options.backendAuth.value,
          }),
      INTEGRATION_STATUS_BASE_URL: url,
      INTEGRATION_STATUS_CLIENT_ID: integrationClient.clientId,
      INTEGRATION_STATUS_CLIENT_SECRET: integrationClient.clientSecret,
      INTEGRATION_STATUS_TENANT_ID: integrationTenantId,
      INTEGRATION_STATUS_APPLICATION_CODE: 'provider.fortellis-admin',
      INTEGRATION_STATUS_MODULE_NAME: 'Integration backend',
      INTEGRATION_STATUS_MODULE_VERSION: '1.0.0',
      INTEGRATION_STATUS_VENDOR_SYSTEM_NAME: 'Fortellis Admin API',
      INTEGRATION_STATUS_VENDOR_SYSTEM_VERSION: '1.0.0',
    }),
    stop: async () => {
      await app.close();
    },
  };
}
