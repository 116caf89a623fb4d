// The deployment files agree with the code: docker-compose.yml, deploy/Dockerfile and the
// Kubernetes manifests (rendered by kustomize for both overlays when the binary is installed, as
// `npm run infra:install` does; else the base files as they are). Every variable a service's
// config schema requires is provided; probes hit routes that exist (checked against the real
// services); containers run as non-root; the operations console never leaves the cluster and the
// ingress gets neither MongoDB nor operator tokens; image names and ports agree everywhere. Also:
// the generated configuration reference is up to date.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { startSimulator, type Simulator } from '@fortellis-admin/simulator';
import {
  REPO_ROOT,
  baseEnv,
  createTestNamespace,
  findGoBinary,
  freePort,
  startProcess,
  startService,
  type ServiceName,
} from '@fortellis-admin/test-support';
import { isolatedServiceEnv } from '@fortellis-admin/test-support/in-vitest';
import { loadIngressConfig } from '../../services/ingress/src/config.ts';
import { loadOperationsConfig } from '../../services/operations/src/config.ts';
import { loadApprovalWorkerConfig } from '../../services/approval-worker/src/config.ts';
import { loadDeprovisionWorkerConfig } from '../../services/deprovision-worker/src/config.ts';
import {
  COMPOSE_PASSWORDS,
  CONFIG_REFERENCE_FILE,
  METRICS_REFERENCE_FILE,
  renderEnvExample,
  SERVICE_SCHEMAS,
  variableReference,
  withConfigTable,
  withMetricsTable,
} from '../../scripts/config-reference.ts';

type Env = Record<string, string>;
const read = (path: string): string => readFileSync(`${REPO_ROOT}${path}`, 'utf8');

/** Each service: its config loader, and the ports its defaults give (by port name). */
const SERVICES: Record<ServiceName, { load(env: Env): unknown; ports(env: Env): Env }> = {
  ingress: {
    load: loadIngressConfig,
    ports: (env) => {
      const config = loadIngressConfig(env);
      return { http: String(config.http.port), monitoring: String(config.monitoring.port) };
    },
  },
  operations: {
    load: loadOperationsConfig,
    ports: (env) => ({ ops: String(loadOperationsConfig(env).http.port) }),
  },
  'approval-worker': {
    load: loadApprovalWorkerConfig,
    ports: (env) => ({ monitoring: String(loadApprovalWorkerConfig(env).monitoring.port) }),
  },
  'deprovision-worker': {
    load: loadDeprovisionWorkerConfig,
    ports: (env) => ({ monitoring: String(loadDeprovisionWorkerConfig(env).monitoring.port) }),
  },
};
const SERVICE_NAMES = Object.keys(SERVICES) as ServiceName[];
/** The environment variable that sets each named port. */
const PORT_VARIABLES: Record<string, string> = {
  http: 'PORT',
  ops: 'OPS_PORT',
  monitoring: 'MONITORING_PORT',
};

function parseEnvFile(text: string): Env {
  const env: Env = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match !== null) env[match[1]!] = match[2]!;
  }
  return env;
}

// --- the Dockerfile ------------------------------------------------------------------------------

interface Stage {
  name: string;
  from: string;
  lines: string[];
}

function dockerStages(): Stage[] {
  const stages: Stage[] = [];
  const joined = read('deploy/Dockerfile').replace(/\\\n\s*/g, ' ');
  for (const raw of joined.split('\n')) {
    const line = raw.trim();
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from !== null) stages.push({ name: from[2] ?? from[1]!, from: from[1]!, lines: [] });
    else if (line !== '' && !line.startsWith('#')) stages.at(-1)?.lines.push(line);
  }
  return stages;
}

/** A target's instructions, its own after those of the stages it is built FROM. */
function targetLines(target: string): string[] {
  const stages = dockerStages();
  const stage = stages.find((candidate) => candidate.name === target);
  if (stage === undefined) return [];
  return [...targetLines(stage.from), ...stage.lines];
}

function dockerEnv(target: string): Env {
  const env: Env = {};
  for (const line of targetLines(target).filter((entry) => entry.startsWith('ENV '))) {
    for (const pair of line.slice(4).trim().split(/\s+/)) {
      const [name, value] = pair.split('=');
      if (name !== undefined && value !== undefined) env[name] = value;
    }
  }
  return env;
}

/** The arguments a target's last CMD gives node (ENTRYPOINT is tini -- node). */
function imageCommand(target: string): string[] {
  const cmd = targetLines(target)
    .filter((line) => line.startsWith('CMD '))
    .at(-1);
  return cmd === undefined ? [] : (JSON.parse(cmd.slice(4)) as string[]);
}

describe('deploy/Dockerfile', () => {
  it.each(SERVICE_NAMES)(
    'target %s: non-root, tini as PID 1, a HEALTHCHECK on /health at its monitoring port',
    (name) => {
      const lines = targetLines(name);
      expect(lines.length).toBeGreaterThan(0);
      const users = lines.filter((line) => line.startsWith('USER '));
      expect(users.at(-1)).toBe('USER node');
      expect(lines.filter((line) => line.startsWith('ENTRYPOINT')).at(-1)).toContain(
        '/usr/bin/tini',
      );
      const healthcheck = lines.find((line) => line.startsWith('HEALTHCHECK'));
      expect(healthcheck).toBeDefined();
      const env = dockerEnv(name);
      // The ingress's /health is on its monitoring listener, never on the Fortellis-facing PORT.
      const portVariable = name === 'operations' ? 'OPS_PORT' : 'MONITORING_PORT';
      expect(healthcheck).toContain(`process.env.${portVariable}`);
      expect(healthcheck).toContain('/health');
      // The image's ports are the service's defaults, and it exposes exactly those.
      const defaults = SERVICES[name].ports({
        ...minimalEnv(name),
      });
      const exposed = lines
        .filter((line) => line.startsWith('EXPOSE '))
        .flatMap((line) => line.slice(7).trim().split(/\s+/));
      expect(exposed.sort()).toEqual(Object.values(defaults).sort());
      for (const [portName, value] of Object.entries(defaults)) {
        expect(env[PORT_VARIABLES[portName]!], portName).toBe(value);
      }
      // The image runs the JavaScript its build stage emits, with the heap bounded: the flags
      // are in CMD (after tini -- node), so the HEALTHCHECK's own `node -e` does not get them.
      expect(imageCommand(name)).toEqual([
        expect.stringMatching(/^--max-semi-space-size=\d+$/),
        expect.stringMatching(/^--max-old-space-size=\d+$/),
        `services/${name}/src/main.js`,
      ]);
      // Under load, the engine's exec set-up plus Node's start-up has taken more than 3 s.
      expect(healthcheck).toContain('--timeout=10s');
    },
  );

  it(
    'its build and dependency stages, run as written, leave JavaScript and production packages only, from which each service starts as its CMD says',
    { timeout: 300_000 },
    async () => {
      // What `docker build` would do for those stages, without Docker: their COPY and RUN lines,
      // in a scratch folder (the build stage first: the deps stage rewrites package.json). Then
      // the runtime stages' COPY of the emitted tree in place of the sources, and each service
      // started with its CMD.
      const dir = mkdtempSync(join(tmpdir(), 'image-'));
      const run = (lines: string[]): void => {
        for (const line of lines) {
          if (line.startsWith('COPY ')) {
            const parts = line.slice(5).trim().split(/\s+/);
            const dest = parts.pop()!;
            for (const source of parts) {
              const target = dest.endsWith('/')
                ? join(dir, dest, basename(source))
                : join(dir, dest);
              mkdirSync(dirname(target), { recursive: true });
              // Without what .dockerignore leaves out below a copied folder: dependencies, tests.
              const from = `${REPO_ROOT}${source}`;
              cpSync(from, target, {
                recursive: true,
                filter: (path) =>
                  !/\/(node_modules|test)(\/|$)|\.test\.ts$/.test(path.slice(from.length)),
              });
            }
          } else if (line.startsWith('RUN ')) {
            execFileSync('sh', ['-c', line.slice(4).replace(/^(--mount=\S+\s+)+/, '')], {
              cwd: dir,
              stdio: 'pipe',
              timeout: 180_000,
            });
          }
        }
      };
      const ownLines = (name: string): string[] =>
        dockerStages().find((stage) => stage.name === name)?.lines ?? [];
      try {
        expect(dockerStages().find((stage) => stage.name === 'build')?.from).toBe('all-deps');
        run(targetLines('all-deps'));
        run(ownLines('build'));
        run(ownLines('deps'));
        const installed = readdirSync(join(dir, 'node_modules'));
        for (const wanted of ['bullmq', 'fastify', 'jose', 'mongodb', 'ioredis', 'pino']) {
          expect(installed, wanted).toContain(wanted);
        }
        for (const unwanted of [
          'testcontainers',
          'vitest',
          'playwright-core',
          'typescript',
          'eslint',
        ]) {
          expect(installed, unwanted).not.toContain(unwanted);
        }
        const emitted = readdirSync(join(dir, 'dist'), { recursive: true, encoding: 'utf8' });
        expect(emitted.filter((path) => path.endsWith('.ts'))).toEqual([]);
        // Every library, from the build stage, as the runtime stage copies them.
        // The runtime stages' copies from the build stage: every library, and each service.
        const copies = [...targetLines('runtime'), ...SERVICE_NAMES.flatMap(ownLines)].flatMap(
          (line) => {
            const copy = /^COPY --from=build \/app\/(\S+) (\S+)$/.exec(line);
            return copy === null ? [] : [{ from: copy[1]!, to: copy[2]! }];
          },
        );
        const libs = copies.flatMap(({ from }) => /^dist\/libs\/([\w-]+)$/.exec(from)?.[1] ?? []);
        expect([...libs].sort()).toEqual(readdirSync(`${REPO_ROOT}libs`).sort());
        for (const service of SERVICE_NAMES) {
          expect(copies).toContainEqual({
            from: `dist/services/${service}`,
            to: `services/${service}`,
          });
        }
        for (const { from, to } of copies) {
          rmSync(join(dir, to), { recursive: true, force: true });
          cpSync(join(dir, from), join(dir, to), { recursive: true });
        }
        for (const service of SERVICE_NAMES) {
          const ns = createTestNamespace(`image-${service}`);
          const running = startProcess(process.execPath, imageCommand(service), {
            cwd: dir,
            env: {
              ...baseEnv(),
              ...minimalEnv(service),
              ...isolatedServiceEnv(ns),
              PORT: '0',
              OPS_PORT: '0',
              MONITORING_PORT: '0',
            },
          });
          try {
            await expect
              .poll(() => running.output(), { timeout: 20_000 })
              .toContain(`"msg":"${service} started"`);
          } finally {
            await running.stop();
          }
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('builds on node:24 slim and installs production dependencies only', () => {
    const text = read('deploy/Dockerfile');
    expect(text).toMatch(/ARG NODE_IMAGE=node:24-slim/);
    const installs = dockerStages()
      .flatMap((stage) => stage.lines)
      .filter((line) => line.startsWith('RUN ') && line.includes('npm ci'));
    expect(installs.length).toBeGreaterThan(0);
    for (const install of installs) expect(install).toContain('--omit=dev');
  });
});

/** The least environment a service's loader accepts, for reading its defaults. */
function minimalEnv(name: ServiceName): Env {
  const common = { REDIS_URL: 'redis://r:6379', MONGODB_URL: 'mongodb://m:27017' };
  if (name === 'ingress') {
    // Redis and the JWKS only: no MongoDB, no operator tokens.
    return {
      REDIS_URL: common.REDIS_URL,
      FORTELLIS_ISSUER: 'https://issuer.example',
      FORTELLIS_CLIENT_ID: 'c',
    };
  }
  if (name === 'operations')
    return { ...common, OPS_API_TOKENS: 'ops:admin=3f9a1c7e5b2d8046f1e9c3a7b5d20e48c6f1a9d3' };
  if (name === 'approval-worker') {
    return {
      ...common,
      FORTELLIS_CALLBACK_BASE_URL: 'https://cb.example',
      FORTELLIS_TOKEN_URL: 'https://token.example',
      FORTELLIS_CLIENT_ID: 'c',
      FORTELLIS_CLIENT_SECRET: 's',
    };
  }
  return { ...common, BACKEND_DEPROVISIONER: 'none' };
}

// --- docker-compose.yml ------------------------------------------------------------------------------

interface ComposeService {
  image?: string;
  build?: { target?: string; dockerfile?: string };
  entrypoint?: string[];
  command?: string[];
  environment?: Env;
  env_file?: string[];
  networks?: string[];
  volumes?: string[];
  ports?: string[];
  expose?: string[];
  depends_on?: Record<string, { condition: string; required?: boolean }>;
  profiles?: string[];
  healthcheck?: { test: string[] };
  read_only?: boolean;
  cap_drop?: string[];
}

const compose = parse(read('docker-compose.yml'), { merge: true }) as {
  services: Record<string, ComposeService>;
  networks: Record<string, { internal?: boolean } | null>;
};

/** What compose makes of a value from .env: `${NAME}`, `${NAME:-default}`, `${NAME:?error}`. */
function interpolate(value: string, dotenv: Env): string {
  return value.replace(
    /\$\{([A-Z][A-Z0-9_]*)(?:(:-|:\?)([^}]*))?\}/g,
    (_all, name: string, kind: string | undefined, rest: string | undefined) => {
      const given = dotenv[name];
      if (given !== undefined && given !== '') return given;
      if (kind === ':?') throw new Error(`compose refuses to start: ${name} ${rest ?? ''}`);
      return kind === ':-' ? (rest ?? '') : '';
    },
  );
}

/** The environment compose gives a service's container, from this .env (blank = unset). */
function composeEnv(name: string, dotenv: Env): Env {
  const env: Env = { ...dockerEnv(name) };
  for (const [key, value] of Object.entries(compose.services[name]?.environment ?? {})) {
    const resolved = interpolate(String(value), dotenv);
    env[key] = resolved;
  }
  return Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
}

/** A .env with only what compose requires: the passwords. */
const PASSWORDS_ONLY: Env = Object.fromEntries(
  COMPOSE_PASSWORDS.map((name) => [name, `hex-of-${name.toLowerCase()}`]),
);

/** A .env for the sim profile as the compose comments make it: sim.env, a token, the passwords. */
const SIM_DOTENV: Env = {
  ...parseEnvFile(read('deploy/compose/sim.env')),
  // As the compose comment makes it: me:admin=$(openssl rand -hex 24).
  OPS_API_TOKENS: 'me:admin=9c4e1a7f3b6d2058e8a1c4f7b3d6092e5a8c1f4b7d3e6a09',
  ...PASSWORDS_ONLY,
  // What .env might say is overridden by compose's environment.
  PORT: '1',
  OPS_PORT: '2',
  MONITORING_PORT: '3',
};

/** How a service reaches Redis other than by REDIS_URL: through Sentinel, or a Cluster. */
const REDIS_ALTERNATIVES = [
  'REDIS_SENTINELS',
  'REDIS_SENTINEL_MASTER',
  'REDIS_SENTINEL_PASSWORD',
  'REDIS_CLUSTER_NODES',
  'REDIS_USERNAME',
  'REDIS_PASSWORD',
  'REDIS_TLS',
];

/** The name part of a service's variables: INGRESS, APPROVAL_WORKER, ... */
const upper = (service: string) => service.toUpperCase().replaceAll('-', '_');

describe('docker-compose.yml', () => {
  it('runs Redis 7 with an AOF fsynced on every write and noeviction, MongoDB 8 as a replica set', () => {
    const redis = compose.services.redis!;
    expect(redis.image).toBe('redis:7');
    const args = redis.command!.join(' ');
    expect(args).toContain('--appendonly yes');
    // What the ingress's ACK_DURABILITY=fsync (its default) requires of Redis.
    expect(args).toContain('--appendfsync always');
    expect(args).toContain('--maxmemory-policy noeviction');
    const mongo = compose.services.mongo!;
    expect(mongo.image).toBe('mongo:8');
    // The replica set (and authentication) are in the config file it starts with.
    expect(mongo.command).toContain('--config');
    expect(read('deploy/mongo/mongod.conf')).toMatch(/^ {2}replSetName: rs0$/m);
    expect(redis.healthcheck).toBeDefined();
    expect(mongo.healthcheck?.test.join(' ')).toContain('rs.initiate');
  });

  it.each(SERVICE_NAMES)(
    '%s: its Dockerfile target and image, health-gated on Redis and MongoDB (the ingress: Redis only)',
    (name) => {
      const service = compose.services[name]!;
      expect(service.build).toMatchObject({ dockerfile: 'deploy/Dockerfile', target: name });
      expect(service.image).toMatch(new RegExp(`^fortellis-admin/${name}:`));
      expect(service.depends_on?.redis?.condition).toBe('service_healthy');
      if (name === 'ingress') {
        expect(service.depends_on?.mongo).toBeUndefined();
        expect(service.environment).not.toHaveProperty('MONGODB_URL');
        expect(service.environment).not.toHaveProperty('OPS_API_TOKENS');
      } else {
        expect(service.depends_on?.mongo?.condition).toBe('service_healthy');
      }
      expect(service.read_only).toBe(true);
      expect(service.cap_drop).toEqual(['ALL']);
    },
  );

  it.each(SERVICE_NAMES)(
    '%s: the sim profile settings with what compose adds satisfy its config schema; ports pinned',
    (name) => {
      const env = composeEnv(name, SIM_DOTENV);
      expect(() => SERVICES[name].load(env)).not.toThrow();
      expect(SERVICES[name].ports(env)).toEqual(SERVICES[name].ports(minimalEnv(name)));
    },
  );

  it.each(SERVICE_NAMES)(
    '%s: gets exactly the variables of its own config schema from .env, no env_file',
    (name) => {
      const service = compose.services[name]!;
      expect(service.env_file).toBeUndefined();
      // Redis by REDIS_URL only: the other ways to reach it are deploy/compose/ha.yml's to set
      // (compose-ha.test.ts), never .env's beside a REDIS_URL (the loaders refuse both at once).
      expect(Object.keys(service.environment ?? {}).sort()).toEqual(
        Object.keys(SERVICE_SCHEMAS[name]!.properties)
          .filter((variable) => !REDIS_ALTERNATIVES.includes(variable))
          .sort(),
      );
      // A variable the image sets keeps the image's value unless .env says otherwise.
      for (const [variable, value] of Object.entries(dockerEnv(name)))
        if (variable in (service.environment ?? {}))
          expect(composeEnv(name, PASSWORDS_ONLY)[variable], variable).toBe(value);
    },
  );

  it('the ingress receives no operator token, client secret, credentials key nor MongoDB', () => {
    const everything = Object.fromEntries(
      variableReference().map((entry) => [entry.name, `value-of-${entry.name}`]),
    );
    const env = composeEnv('ingress', { ...SIM_DOTENV, ...everything });
    for (const secret of [
      'OPS_API_TOKENS',
      'FORTELLIS_CLIENT_SECRET',
      'PROVISIONING_CREDENTIALS_KEY',
      'BACKEND_PROVISION_SECRET',
      'BACKEND_DEPROVISION_SECRET',
      'INTEGRATION_STATUS_CLIENT_SECRET',
      'MONGODB_URL',
      'MONGO_ROOT_PASSWORD',
      'REDIS_ADMIN_PASSWORD',
    ])
      expect(env, secret).not.toHaveProperty(secret);
    // Whatever .env holds, no service gets a secret of another's.
    for (const name of SERVICE_NAMES) {
      const own = new Set(Object.keys(SERVICE_SCHEMAS[name]!.properties));
      for (const variable of Object.keys(composeEnv(name, { ...SIM_DOTENV, ...everything })))
        expect(own.has(variable) || variable in dockerEnv(name), `${name}: ${variable}`).toBe(true);
    }
  });

  it('Redis and MongoDB are on an internal network only; the services on it and on edge', () => {
    expect(compose.networks.data?.internal).toBe(true);
    expect(compose.networks.edge?.internal ?? false).toBe(false);
    for (const store of ['redis', 'mongo']) {
      expect(compose.services[store]!.networks, store).toEqual(['data']);
      expect(compose.services[store]!.ports, store).toBeUndefined();
    }
    for (const name of SERVICE_NAMES)
      expect([...compose.services[name]!.networks!].sort(), name).toEqual(['data', 'edge']);
    expect(compose.services.simulator!.networks).toEqual(['edge']);
  });

  it('Redis runs the shipped ACL users, given passwords at start; each service connects as its own', () => {
    const redis = compose.services.redis!;
    const command = redis.command!.join(' ');
    expect(command).toContain(
      'sh /etc/fortellis-admin/render-acl.sh /etc/fortellis-admin/users.acl /run/redis-acl/users.acl',
    );
    expect(command).toContain('redis-server --aclfile /run/redis-acl/users.acl');
    expect(redis.volumes).toEqual(
      expect.arrayContaining([
        './deploy/redis/users.acl:/etc/fortellis-admin/users.acl:ro',
        './deploy/redis/render-acl.sh:/etc/fortellis-admin/render-acl.sh:ro',
      ]),
    );
    expect(redis.healthcheck?.test.join(' ')).toContain('--user healthcheck');
    const acl = read('deploy/redis/users.acl');
    expect(acl).toMatch(/^user default off /m);
    for (const name of SERVICE_NAMES) {
      expect(acl, name).toMatch(new RegExp(`^user ${name} on #0{64} `, 'm'));
      expect(redis.environment, name).toHaveProperty(`REDIS_${upper(name)}_PASSWORD`);
      expect(composeEnv(name, SIM_DOTENV).REDIS_URL, name).toBe(
        `redis://${name}:hex-of-redis_${name.replaceAll('-', '_')}_password@redis:6379`,
      );
    }
  });

  it('MongoDB authenticates: root from .env, one user per service but the ingress, a key file', () => {
    const mongo = compose.services.mongo!;
    const env = Object.fromEntries(
      Object.entries(mongo.environment!).map(([key, value]) => [
        key,
        interpolate(value, SIM_DOTENV),
      ]),
    );
    expect(env.MONGO_INITDB_ROOT_USERNAME).toBe('root');
    expect(env.MONGO_INITDB_ROOT_PASSWORD).toBe('hex-of-mongo_root_password');
    expect(() => interpolate(mongo.environment!.MONGO_INITDB_ROOT_PASSWORD!, {})).toThrow();
    expect(mongo.command).toEqual(['mongod', '--config', '/etc/fortellis-admin/mongod.conf']);
    const conf = parse(read('deploy/mongo/mongod.conf')) as {
      replication: { replSetName: string };
      security: { authorization: string; keyFile: string };
    };
    expect(conf.replication.replSetName).toBe('rs0');
    expect(conf.security).toEqual({
      authorization: 'enabled',
      keyFile: '/data/configdb/keyfile',
    });
    expect(read('deploy/mongo/mongo-entrypoint.sh')).toContain(conf.security.keyFile);
    expect(mongo.volumes).toEqual(
      expect.arrayContaining([
        './deploy/mongo/create-service-users.js:/docker-entrypoint-initdb.d/create-service-users.js:ro',
      ]),
    );
    expect(mongo.healthcheck?.test.join(' ')).toContain('--username root');
    const users = read('deploy/mongo/create-service-users.js');
    for (const name of SERVICE_NAMES) {
      const url = composeEnv(name, SIM_DOTENV).MONGODB_URL;
      if (name === 'ingress') {
        expect(url).toBeUndefined();
        expect(users).not.toContain(`'${name}'`);
        continue;
      }
      expect(users, name).toContain(`['${name}', 'MONGO_${upper(name)}_PASSWORD']`);
      expect(env, name).toHaveProperty(`MONGO_${upper(name)}_PASSWORD`);
      expect(url, name).toBe(
        `mongodb://${name}:hex-of-mongo_${name.replaceAll('-', '_')}_password@mongo:27017/?replicaSet=rs0&authSource=admin`,
      );
    }
  });

  it('every password compose requires is in .env.example, and none other', () => {
    const required = [...read('docker-compose.yml').matchAll(/\$\{([A-Z0-9_]+):\?/g)].map(
      (match) => match[1]!,
    );
    expect([...new Set(required)].sort()).toEqual([...COMPOSE_PASSWORDS].sort());
    const example = parseEnvFile(read('.env.example'));
    for (const name of COMPOSE_PASSWORDS) expect(example, name).toHaveProperty(name);
  });

  it('publishes the Fortellis-facing port, and the ops port on loopback only', () => {
    const ingressPorts = compose.services.ingress!.ports!;
    expect(ingressPorts).toEqual(['${INGRESS_HOST_PORT:-3000}:3000']);
    const opsPorts = compose.services.operations!.ports!;
    const ops = opsPorts.find((port) => port.endsWith(':3001'));
    expect(ops).toBe('${OPS_HOST_BIND:-127.0.0.1}:${OPS_HOST_PORT:-3001}:3001');
    expect(opsPorts).toEqual([ops]);
    // The host-side variables are not the services' own: a PORT or OPS_PORT in .env cannot move
    // a listener away from the container port compose maps.
    for (const port of [...ingressPorts, ...opsPorts])
      expect(port).not.toMatch(/\$\{(PORT|OPS_PORT|MONITORING_PORT)\b/);
    expect(compose.services.ingress!.expose).toEqual(['9463']);
    expect(compose.services['approval-worker']!.expose).toEqual(['9464']);
    expect(compose.services['deprovision-worker']!.expose).toEqual(['9465']);
    expect(compose.services.simulator!.profiles).toEqual(['sim']);
  });

  it('sim.env points the services at the simulator service exactly as the simulator describes itself', async () => {
    const sim = await startSimulator({ publicUrl: 'http://simulator:4010' });
    try {
      const expected = sim.env();
      const given = parseEnvFile(read('deploy/compose/sim.env'));
      for (const [name, value] of Object.entries(given)) {
        if (name in expected) expect(value, name).toBe(expected[name]);
      }
      for (const name of Object.keys(expected).filter(
        (key) => !key.startsWith('INTEGRATION_STATUS_VENDOR'),
      )) {
        expect(given, name).toHaveProperty(name);
      }
    } finally {
      await sim.stop();
    }
  });
});

// --- Kubernetes ------------------------------------------------------------------------------------

interface Container {
  name: string;
  image: string;
  ports?: { name: string; containerPort: number }[];
  env?: {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } };
  }[];
  envFrom?: { configMapRef?: { name: string } }[];
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
  resources?: { requests?: Env; limits?: Env };
  securityContext?: Record<string, unknown> & { capabilities?: { drop?: string[] } };
}

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Env };
  spec?: any;
  data?: Env;
}

const kustomize = findGoBinary('kustomize');

/**
 * The rendered manifests of each overlay. kustomize is installable here (`npm run infra:install`
 * builds it from the Go module proxy), so its absence fails the test rather than narrowing it;
 * KUSTOMIZE_ABSENT_OK=1 falls back to the base files as they are, for machines that cannot.
 */
function renderings(): [string, Manifest[]][] {
  const load = (text: string) =>
    parseAllDocuments(text)
      .map((doc) => doc.toJS() as Manifest)
      .filter((doc) => doc !== null);
  if (kustomize === undefined && process.env.KUSTOMIZE_ABSENT_OK !== '1') {
    throw new Error(
      'kustomize not found: run `npm run infra:install` (or set KUSTOMIZE_ABSENT_OK=1)',
    );
  }
  if (kustomize !== undefined) {
    return ['dev', 'prod', 'ha'].map((overlay) => [
      overlay,
      load(
        execFileSync(kustomize, ['build', `${REPO_ROOT}deploy/k8s/overlays/${overlay}`], {
          encoding: 'utf8',
        }),
      ),
    ]);
  }
  const base = `${REPO_ROOT}deploy/k8s/base`;
  const files = readdirSync(base).filter(
    (file) => file.endsWith('.yaml') && file !== 'kustomization.yaml',
  );
  return [['base', files.flatMap((file) => load(readFileSync(`${base}/${file}`, 'utf8')))]];
}

const RENDERINGS = renderings();
const baseSecretKeys = parseEnvFile(read('deploy/k8s/base/secret-keys.env.example'));
/**
 * The Secret's keys an overlay reads: the base's, and for the ha overlay its own example beside it
 * (Redis through Sentinel: each service's Redis password and the Sentinels' in place of its
 * REDIS_URL; MongoDB's URLs naming the replica set).
 */
function secretKeysOf(overlay: string): Env {
  if (overlay !== 'ha') return baseSecretKeys;
  const own = parseEnvFile(read('deploy/k8s/overlays/ha/secret-keys.env.example'));
  const kept = Object.entries(baseSecretKeys).filter(([key]) => !key.endsWith('_REDIS_URL'));
  return { ...Object.fromEntries(kept), ...own };
}

function deploymentOf(manifests: Manifest[], service: ServiceName): Manifest {
  const found = manifests.find(
    (doc) => doc.kind === 'Deployment' && doc.metadata.name === `fortellis-admin-${service}`,
  );
  if (found === undefined) throw new Error(`no Deployment for ${service}`);
  return found;
}

/** The environment a container gets: its ConfigMaps, its values, its Secret keys (filled in). */
function containerEnv(manifests: Manifest[], container: Container, secrets: Env): Env {
  const env: Env = {};
  for (const source of container.envFrom ?? []) {
    const map = manifests.find(
      (doc) => doc.kind === 'ConfigMap' && doc.metadata.name === source.configMapRef?.name,
    );
    if (map === undefined) throw new Error(`ConfigMap ${source.configMapRef?.name} is missing`);
    Object.assign(env, map.data);
  }
  for (const entry of container.env ?? []) {
    if (entry.value !== undefined) env[entry.name] = entry.value;
    const ref = entry.valueFrom?.secretKeyRef;
    if (ref !== undefined && secrets[ref.key] !== undefined) env[entry.name] = secrets[ref.key]!;
  }
  return env;
}

/** Values for the Secret's keys that pass the schemas (the example file's, or plain ones). */
const secretValuesOf = (secretKeys: Env): Env => ({
  ...Object.fromEntries(Object.keys(secretKeys).map((key) => [key, `value-of-${key}`])),
  ...Object.fromEntries(Object.entries(secretKeys).filter(([, value]) => value !== '')),
  OPS_API_TOKENS: 'ops:admin=7d2b9e4a1f6c3085b7e2a9d4f1c6083b5e8a2d7f',
});

const SECRET_VALUES = secretValuesOf(baseSecretKeys);

describe.each(RENDERINGS)('Kubernetes manifests (%s)', (overlay, manifests) => {
  const secretKeys = secretKeysOf(overlay);
  const SECRET_VALUES = secretValuesOf(secretKeys);
  /** Redis through Sentinel (components/redis-sentinel): its port beside the data nodes'. */
  const sentinel = manifests.some(
    (doc) => doc.kind === 'ConfigMap' && doc.data?.REDIS_SENTINELS !== undefined,
  );
  it('commits no Secret, and every key the Deployments read is listed in secret-keys.env.example', () => {
    expect(manifests.filter((doc) => doc.kind === 'Secret')).toEqual([]);
    for (const service of SERVICE_NAMES) {
      const container = deploymentOf(manifests, service).spec.template.spec
        .containers[0] as Container;
      for (const entry of container.env ?? []) {
        const ref = entry.valueFrom?.secretKeyRef;
        if (ref !== undefined) {
          expect(ref.name).toBe('fortellis-admin-secrets');
          expect(secretKeys, ref.key).toHaveProperty(ref.key);
        }
      }
    }
  });

  it.each(SERVICE_NAMES)(
    '%s: the required variables are provided, ports agree with the defaults, probes use named ports',
    (service) => {
      const deployment = deploymentOf(manifests, service);
      const container = deployment.spec.template.spec.containers[0] as Container;
      const env = containerEnv(manifests, container, SECRET_VALUES);
      expect(() => SERVICES[service].load(env)).not.toThrow();
      // Container ports are the service's defaults, and what its env sets.
      const defaults = SERVICES[service].ports(minimalEnv(service));
      const ports = Object.fromEntries(
        (container.ports ?? []).map((port) => [port.name, String(port.containerPort)]),
      );
      expect(ports).toEqual(defaults);
      for (const [name, value] of Object.entries(ports)) {
        expect(env[PORT_VARIABLES[name]!], name).toBe(value);
      }
      for (const probe of [container.readinessProbe, container.livenessProbe]) {
        expect(probe?.httpGet?.port).toBeOneOf(Object.keys(ports));
      }
      expect(container.readinessProbe?.httpGet?.path).toBe('/ready');
      expect(container.livenessProbe?.httpGet?.path).toBe('/health');
      // Only the operations service has no monitoring listener of its own.
      if (service !== 'operations') {
        expect(container.readinessProbe?.httpGet?.port).toBe('monitoring');
        expect(container.livenessProbe?.httpGet?.port).toBe('monitoring');
      }
      // The image is the service's, whatever registry an overlay puts in front.
      expect(container.image).toMatch(new RegExp(`(^|/)fortellis-admin/${service}(:[\\w.-]+)?$`));
    },
  );

  it.each(SERVICE_NAMES)(
    '%s: non-root, read-only, no privilege escalation, resources, a grace period beyond its shutdown',
    (service) => {
      const pod = deploymentOf(manifests, service).spec.template.spec;
      const container = pod.containers[0] as Container;
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      expect(container.securityContext).toMatchObject({
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
      expect(container.resources?.requests?.cpu).toBeDefined();
      expect(container.resources?.requests?.memory).toBeDefined();
      expect(container.resources?.limits?.memory).toBeDefined();
      const env = containerEnv(manifests, container, SECRET_VALUES);
      const config = SERVICES[service].load(env) as { shutdownTimeoutMs: number };
      const preStop = container.lifecycle?.preStop?.sleep?.seconds ?? 0;
      expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(
        config.shutdownTimeoutMs + preStop * 1000,
      );
    },
  );

  it('the Ingress exposes only /activate and /deactivate, on the http port, never ops', () => {
    const routes = manifests.filter((doc) => doc.kind === 'Ingress');
    expect(routes).toHaveLength(1);
    const services = manifests.filter((doc) => doc.kind === 'Service');
    const paths: string[] = [];
    for (const rule of routes[0]!.spec.rules) {
      for (const path of rule.http.paths) {
        paths.push(path.path);
        const backend = services.find((doc) => doc.metadata.name === path.backend.service.name);
        expect(backend, path.backend.service.name).toBeDefined();
        const port = backend!.spec.ports.find(
          (entry: { name: string; port: number }) =>
            entry.name === path.backend.service.port.name ||
            entry.port === path.backend.service.port.number,
        );
        expect(port.targetPort).toBe('http');
      }
    }
    expect(paths.sort()).toEqual(['/activate', '/deactivate']);
    const ops = services.find((doc) => doc.metadata.name === 'fortellis-admin-ops');
    expect(ops?.spec.type ?? 'ClusterIP').toBe('ClusterIP');
    // The ops Service reaches the operations pods, on their ops port.
    const operations = deploymentOf(manifests, 'operations');
    expect(ops?.spec.selector).toEqual(operations.spec.selector.matchLabels);
    expect(
      (operations.spec.template.spec.containers[0] as Container).ports?.map((port) => port.name),
    ).toContain(ops?.spec.ports[0].targetPort);
    for (const service of services) {
      expect(service.spec.type ?? 'ClusterIP', service.metadata.name).toBe('ClusterIP');
    }
  });

  it('a NetworkPolicy admits the ops and monitoring ports only from labelled clients', () => {
    const policies = manifests.filter(
      (doc) => doc.kind === 'NetworkPolicy' && doc.spec.policyTypes.includes('Ingress'),
    );
    const deployments = manifests.filter((doc) => doc.kind === 'Deployment');
    for (const deployment of deployments) {
      const labels = deployment.spec.template.metadata.labels as Env;
      const container = deployment.spec.template.spec.containers[0] as Container;
      const policy = policies.find((doc) =>
        Object.entries(doc.spec.podSelector.matchLabels as Env).every(
          ([key, value]) => labels[key] === value,
        ),
      );
      expect(policy, deployment.metadata.name).toBeDefined();
      for (const port of container.ports ?? []) {
        if (port.name === 'http') continue;
        const rules = (
          policy!.spec.ingress as { ports: { port: string }[]; from?: unknown[] }[]
        ).filter((rule) => rule.ports.some((entry) => entry.port === port.name));
        expect(rules.length, port.name).toBeGreaterThan(0);
        for (const rule of rules) expect(rule.from?.length ?? 0, port.name).toBeGreaterThan(0);
      }
    }
  });

  it('the ingress gets neither MongoDB nor operator tokens; each monitoring port has a Service', () => {
    const container = deploymentOf(manifests, 'ingress').spec.template.spec
      .containers[0] as Container;
    const names = (container.env ?? []).map((entry) => entry.name);
    for (const name of ['MONGODB_URL', 'MONGODB_DATABASE', 'OPS_API_TOKENS', 'OPS_PORT']) {
      expect(names, name).not.toContain(name);
    }
    const services = manifests.filter((doc) => doc.kind === 'Service');
    for (const deployment of manifests.filter((doc) => doc.kind === 'Deployment')) {
      const labels = deployment.spec.template.metadata.labels as Env;
      const ports = (deployment.spec.template.spec.containers[0] as Container).ports ?? [];
      for (const port of ports.filter((entry) => entry.name === 'monitoring')) {
        expect(
          services.some(
            (service) =>
              Object.entries(service.spec.selector as Env).every(
                ([key, value]) => labels[key] === value,
              ) &&
              (service.spec.ports as { targetPort: string }[]).some(
                (entry) => entry.targetPort === port.name,
              ),
          ),
          deployment.metadata.name,
        ).toBe(true);
      }
    }
  });

  it('an egress NetworkPolicy lets each service reach only DNS, Redis, MongoDB and its parties', () => {
    const egress = manifests.filter(
      (doc) => doc.kind === 'NetworkPolicy' && doc.spec.policyTypes.includes('Egress'),
    );
    interface EgressRule {
      to?: Array<{ ipBlock?: { cidr: string }; namespaceSelector?: unknown }>;
      ports?: Array<{ port: number; protocol: string }>;
    }
    for (const service of SERVICE_NAMES) {
      const deployment = deploymentOf(manifests, service);
      const labels = deployment.spec.template.metadata.labels as Env;
      const policies = egress.filter((doc) =>
        Object.entries(doc.spec.podSelector.matchLabels as Env).every(
          ([key, value]) => labels[key] === value,
        ),
      );
      expect(policies.length, service).toBe(1);
      const rules = policies[0]!.spec.egress as EgressRule[];
      const ports = new Set<number>();
      for (const rule of rules) {
        // No rule opens egress to everywhere: each names where, and on which ports.
        expect(rule.to?.length ?? 0, service).toBeGreaterThan(0);
        expect(rule.ports?.length ?? 0, service).toBeGreaterThan(0);
        for (const port of rule.ports ?? []) ports.add(port.port);
      }
      const dns = rules.find((rule) => rule.ports?.some((port) => port.port === 53));
      expect(dns?.to?.[0]?.namespaceSelector, service).toEqual({
        matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' },
      });
      const expected: Record<ServiceName, number[]> = {
        ingress: [53, 443, 6379, 6380],
        operations: [53, 6379, 6380, 27017],
        'approval-worker': [53, 443, 6379, 6380, 27017],
        'deprovision-worker': [53, 443, 6379, 6380, 27017],
      };
      expect(
        [...ports].sort((a, b) => a - b),
        service,
      ).toEqual([...expected[service], ...(sentinel ? [26379] : [])].sort((a, b) => a - b));
    }
  });

  it('each Deployment reads its own Redis and MongoDB credentials (its own users)', () => {
    const seen = new Set<string>();
    for (const service of SERVICE_NAMES) {
      const container = deploymentOf(manifests, service).spec.template.spec
        .containers[0] as Container;
      const entryOf = (name: string) => container.env?.find((entry) => entry.name === name);
      const keyOf = (name: string) => entryOf(name)?.valueFrom?.secretKeyRef?.key;
      // Through Sentinel, its ACL user by name and its password from the Secret; else its URL.
      const redisKey = sentinel ? keyOf('REDIS_PASSWORD') : keyOf('REDIS_URL');
      expect(redisKey, service).toBe(`${upper(service)}_REDIS_${sentinel ? 'PASSWORD' : 'URL'}`);
      if (sentinel) {
        expect(entryOf('REDIS_URL'), service).toBeUndefined();
        expect(entryOf('REDIS_USERNAME')?.value, service).toBe(service);
      }
      expect(keyOf('MONGODB_URL'), service).toBe(
        service === 'ingress' ? undefined : `${upper(service)}_MONGODB_URL`,
      );
      for (const key of [redisKey, keyOf('MONGODB_URL')])
        if (key !== undefined) {
          expect(seen.has(key), key).toBe(false);
          seen.add(key);
        }
    }
    expect(secretKeys).not.toHaveProperty('REDIS_URL');
    expect(secretKeys).not.toHaveProperty('MONGODB_URL');
    // The example URLs name each service's own user.
    for (const key of seen)
      if (key.endsWith('_URL')) expect(secretKeys[key], key).toMatch(/^\w+(\+srv)?:\/\/[a-z-]+:/);
  });

  it('approves no connection by default: no overlay sets APPROVAL_DEFAULT_ACTION=approve', () => {
    const config = manifests.find(
      (doc) => doc.kind === 'ConfigMap' && doc.metadata.name === 'fortellis-admin-config',
    );
    expect(config?.data?.APPROVAL_DEFAULT_ACTION).toBe('review');
  });

  it('autoscales the ingress and budgets disruptions of every Deployment', () => {
    const hpa = manifests.find((doc) => doc.kind === 'HorizontalPodAutoscaler');
    expect(hpa?.spec.scaleTargetRef).toMatchObject({
      kind: 'Deployment',
      name: 'fortellis-admin-ingress',
    });
    expect(hpa?.spec.minReplicas).toBeGreaterThanOrEqual(1);
    // The HPA owns the ingress's replica count: the Deployment must not set one to reset it to.
    expect(deploymentOf(manifests, 'ingress').spec.replicas).toBeUndefined();
    const budgets = manifests.filter((doc) => doc.kind === 'PodDisruptionBudget');
    for (const deployment of manifests.filter((doc) => doc.kind === 'Deployment')) {
      const labels = deployment.spec.template.metadata.labels as Env;
      expect(
        budgets.some((budget) =>
          Object.entries(budget.spec.selector.matchLabels as Env).every(
            ([key, value]) => labels[key] === value,
          ),
        ),
        deployment.metadata.name,
      ).toBe(true);
    }
  });
});

describe('the probes of the manifests answer on the real services', () => {
  const [, manifests] = RENDERINGS[0]!;
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator();
  });
  afterAll(async () => {
    await sim.stop();
  });

  it.each(SERVICE_NAMES)(
    '%s: readiness and liveness paths answer 200 on the probed ports',
    { timeout: 60_000 },
    async (service) => {
      const container = deploymentOf(manifests, service).spec.template.spec
        .containers[0] as Container;
      const ns = createTestNamespace(`deploy-${service}`);
      const env: Env = {
        ...containerEnv(manifests, container, SECRET_VALUES),
        // Outward addresses become this machine's: the simulator, the test Redis and MongoDB.
        ...sim.env(),
        ...isolatedServiceEnv(ns),
      };
      const actual: Record<string, number> = {};
      for (const port of container.ports ?? []) {
        actual[port.name] = await freePort();
        env[PORT_VARIABLES[port.name]!] = String(actual[port.name]);
      }
      const running = await startService(service, env);
      try {
        for (const probe of [container.livenessProbe, container.readinessProbe]) {
          const url = `http://127.0.0.1:${actual[String(probe!.httpGet!.port)]}${probe!.httpGet!.path}`;
          await expect.poll(async () => (await fetch(url)).status, { timeout: 15_000 }).toBe(200);
        }
      } finally {
        await running.stop();
      }
    },
  );
});

describe('the configuration reference', () => {
  it('the configuration and metrics tables and .env.example are what the schemas generate (npm run docs:config)', () => {
    const configuration = read(CONFIG_REFERENCE_FILE);
    expect(withConfigTable(configuration)).toBe(configuration);
    const metrics = read(METRICS_REFERENCE_FILE);
    expect(withMetricsTable(metrics)).toBe(metrics);
    expect(read('.env.example')).toBe(renderEnvExample());
  });

  it('every variable has a description', () => {
    for (const entry of variableReference()) expect(entry.description, entry.name).not.toBe('');
  });
});
