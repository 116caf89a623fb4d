// deploy/compose/ha.yml on top of docker-compose.yml, as the compose CLI renders them (`docker
// compose config`, the Docker Compose v5 `npm run infra:install` builds, or Docker's plugin): a
// primary, a replica and three Sentinels with quorum 2, the four services finding the primary
// through the Sentinels with their own users (no REDIS_URL left) and passing their config loaders,
// the ingress acknowledging once a replica holds a job; and nothing else of the services changed
// (security options, limits, networks, ports are the base file's).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, findGoBinary, type ServiceName } from '@fortellis-admin/test-support';
import { loadIngressConfig } from '../../services/ingress/src/config.ts';
import { loadOperationsConfig } from '../../services/operations/src/config.ts';
import { loadApprovalWorkerConfig } from '../../services/approval-worker/src/config.ts';
import { loadDeprovisionWorkerConfig } from '../../services/deprovision-worker/src/config.ts';
import { COMPOSE_PASSWORDS } from '../../scripts/config-reference.ts';

type Env = Record<string, string>;
const read = (path: string): string => readFileSync(`${REPO_ROOT}${path}`, 'utf8');

const LOADERS: Record<ServiceName, (env: Env) => unknown> = {
  ingress: loadIngressConfig,
  operations: loadOperationsConfig,
  'approval-worker': loadApprovalWorkerConfig,
  'deprovision-worker': loadDeprovisionWorkerConfig,
};
const SERVICE_NAMES = Object.keys(LOADERS) as ServiceName[];
const SENTINELS = ['redis-sentinel-1', 'redis-sentinel-2', 'redis-sentinel-3'];
/** The passwords ha.yml adds to .env. */
const HA_PASSWORDS = [
  'REDIS_REPLICA_PASSWORD',
  'REDIS_FAILOVER_PASSWORD',
  'REDIS_SENTINEL_PASSWORD',
];
/** The Redis variables ha.yml sets on the services (and REDIS_URL, which it removes). */
const REDIS_VARIABLES = [
  'REDIS_URL',
  'REDIS_SENTINELS',
  'REDIS_SENTINEL_MASTER',
  'REDIS_SENTINEL_PASSWORD',
  'REDIS_USERNAME',
  'REDIS_PASSWORD',
];

interface Rendered {
  services: Record<string, RenderedService>;
  volumes: Record<string, unknown>;
}
interface RenderedService {
  image?: string;
  command?: string[];
  environment?: Record<string, string | null>;
  depends_on?: Record<string, { condition: string }>;
  volumes?: { type: string; source: string; target: string; read_only?: boolean }[];
  tmpfs?: string[];
  networks?: Record<string, unknown>;
  ports?: unknown[];
  user?: string;
  read_only?: boolean;
  cap_drop?: string[];
  security_opt?: string[];
  mem_limit?: string;
  healthcheck?: { test: string[] };
  [key: string]: unknown;
}

/** The compose CLI: Docker's plugin where it answers, else the binary infra:install builds. */
function composeCommand(): string[] {
  const binary = findGoBinary('docker-compose');
  if (binary !== undefined) return [binary];
  if (spawnSync('docker', ['compose', 'version']).status === 0) return ['docker', 'compose'];
  throw new Error('no compose CLI: run `npm run infra:install` (it builds Docker Compose v5)');
}

const workDir = mkdtempSync(join(tmpdir(), 'compose-ha-'));
const passwordOf = (name: string) => `hex-of-${name.toLowerCase()}`;
const OPS_TOKEN = 'me:admin=9c4e1a7f3b6d2058e8a1c4f7b3d6092e5a8c1f4b7d3e6a09';

/** `config --format json` of the given files, with a .env of sim.env, a token and `passwords`. */
function render(files: string[], passwords: readonly string[]): Rendered {
  const envFile = join(workDir, `${files.length}-${passwords.length}.env`);
  const lines = [
    read('deploy/compose/sim.env'),
    `OPS_API_TOKENS=${OPS_TOKEN}`,
    ...passwords.map((name) => `${name}=${passwordOf(name)}`),
  ];
  writeFileSync(envFile, `${lines.join('\n')}\n`, { mode: 0o600 });
  const [command, ...prefix] = composeCommand();
  const args = [
    ...prefix,
    ...files.flatMap((file) => ['--file', file]),
    ...['--env-file', envFile, '--project-name', 'fa-ha', '--profile', 'sim'],
    ...['config', '--format', 'json'],
  ];
  // Only what compose needs: it reads its own environment before .env.
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? workDir };
  const result = spawnSync(command!, args, { cwd: REPO_ROOT, env, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`compose config failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as Rendered;
}

const ALL_PASSWORDS = [...COMPOSE_PASSWORDS, ...HA_PASSWORDS];
const HA_FILES = ['docker-compose.yml', 'deploy/compose/ha.yml'];
const ha = render(HA_FILES, ALL_PASSWORDS);
const base = render(['docker-compose.yml'], ALL_PASSWORDS);

afterAll(() => rmSync(workDir, { recursive: true, force: true }));

/** A container's environment as the service reads it: empty counts as unset. */
function serviceEnv(service: RenderedService): Env {
  return Object.fromEntries(
    Object.entries(service.environment ?? {}).flatMap(([key, value]) =>
      value === null || value === '' ? [] : [[key, value]],
    ),
  );
}

/** redis-server's arguments in a data node's command (after `redis-server`, then its own). */
function redisArgs(service: RenderedService): string {
  const [, , script, , ...own] = service.command!;
  return `${script!.slice(script!.indexOf('redis-server '))} ${own.join(' ')}`;
}

const upper = (name: string) => name.toUpperCase().replaceAll('-', '_');
const sentinelConf = read('deploy/redis/sentinel.conf');

describe('deploy/compose/ha.yml, rendered by the compose CLI', () => {
  it.each(SERVICE_NAMES)(
    '%s: finds the primary through the three Sentinels as its own user; no REDIS_URL left',
    (name) => {
      const service = ha.services[name]!;
      const env = serviceEnv(service);
      expect(service.environment).not.toHaveProperty('REDIS_URL');
      expect(env.REDIS_SENTINELS!.split(',')).toEqual(SENTINELS.map((host) => `${host}:26379`));
      const monitor = /^sentinel monitor (\S+) (\S+) (\d+) (\d+)$/m.exec(sentinelConf)!;
      expect(env.REDIS_SENTINEL_MASTER).toBe(monitor[1]);
      expect(env.REDIS_SENTINEL_PASSWORD).toBe(passwordOf('REDIS_SENTINEL_PASSWORD'));
      expect(env.REDIS_USERNAME).toBe(name);
      expect(read('deploy/redis/users.acl')).toMatch(new RegExp(`^user ${name} on `, 'm'));
      expect(env.REDIS_PASSWORD).toBe(passwordOf(`REDIS_${upper(name)}_PASSWORD`));
      expect(() => LOADERS[name](env)).not.toThrow();
      for (const sentinel of SENTINELS)
        expect(service.depends_on?.[sentinel]?.condition, sentinel).toBe('service_healthy');
      expect(env.ACK_REPLICAS).toBe('1');
    },
  );

  it.each(SERVICE_NAMES)(
    '%s: everything but its Redis settings is the base file’s (security, limits, networks, ports)',
    (name) => {
      const strip = (service: RenderedService) => {
        const { environment, depends_on: dependsOn, ...rest } = service;
        const env = { ...environment };
        for (const variable of [...REDIS_VARIABLES, 'ACK_REPLICAS']) delete env[variable];
        const dependencies = Object.keys(dependsOn ?? {}).filter((key) => !SENTINELS.includes(key));
        return { ...rest, env, dependencies };
      };
      expect(strip(ha.services[name]!)).toEqual(strip(base.services[name]!));
      expect(ha.services[name]!.read_only).toBe(true);
      expect(ha.services[name]!.cap_drop).toEqual(['ALL']);
    },
  );

  it('three Sentinels with quorum 2 watch `redis`, each on its own writable copy, locked down', () => {
    const monitor = /^sentinel monitor (\S+) (\S+) (\d+) (\d+)$/m.exec(sentinelConf)!;
    expect(monitor.slice(2)).toEqual(['redis', '6379', '2']);
    expect(sentinelConf).toMatch(/^sentinel resolve-hostnames yes$/m);
    expect(sentinelConf).toMatch(new RegExp(`^sentinel auth-user ${monitor[1]} failover$`, 'm'));
    const sentinels = Object.keys(ha.services).filter((name) => name.includes('sentinel'));
    expect(sentinels.sort()).toEqual(SENTINELS);
    for (const name of SENTINELS) {
      const sentinel = ha.services[name]!;
      const script = sentinel.command!.join(' ');
      expect(script).toContain('render-ha.sh sentinel /run/sentinel');
      expect(script).toContain('exec redis-server /run/sentinel/sentinel.conf --sentinel');
      expect(sentinel.tmpfs?.some((mount) => mount.startsWith('/run/sentinel'))).toBe(true);
      expect(sentinel.volumes).toContainEqual(
        expect.objectContaining({
          source: `${REPO_ROOT}deploy/redis/sentinel.conf`,
          target: '/etc/fortellis-admin/sentinel.conf',
          read_only: true,
        }),
      );
      expect(sentinel).toMatchObject({
        user: 'redis',
        read_only: true,
        cap_drop: ['ALL'],
        security_opt: ['no-new-privileges:true'],
      });
      expect(Number(sentinel.mem_limit)).toBeGreaterThan(0);
      expect(Object.keys(sentinel.networks!)).toEqual(['data']);
      expect(sentinel.ports).toBeUndefined();
      expect(sentinel.healthcheck?.test.join(' ')).toContain(`sentinel ckquorum ${monitor[1]}`);
      expect(serviceEnv(sentinel)).toEqual({
        REDIS_FAILOVER_PASSWORD: passwordOf('REDIS_FAILOVER_PASSWORD'),
        REDIS_SENTINEL_PASSWORD: passwordOf('REDIS_SENTINEL_PASSWORD'),
        REDISCLI_AUTH: passwordOf('REDIS_SENTINEL_PASSWORD'),
      });
    }
  });

  it('the replica replicates `redis`; both data nodes run alike: fsync, noeviction, min-replicas-to-write 1', () => {
    const primary = ha.services.redis!;
    const replica = ha.services['redis-replica']!;
    const primaryArgs = redisArgs(primary);
    const replicaArgs = redisArgs(replica);
    expect(replicaArgs).toContain('--replicaof redis 6379');
    expect(primaryArgs).not.toContain('--replicaof');
    for (const args of [primaryArgs, replicaArgs]) {
      for (const setting of [
        'redis-server /run/redis-acl/replication.conf',
        '--aclfile /run/redis-acl/users.acl',
        '--appendonly yes --appendfsync always',
        '--maxmemory-policy noeviction',
        '--min-replicas-to-write 1',
      ])
        expect(args).toContain(setting);
    }
    expect(primaryArgs).toMatch(/--replica-announce-ip redis( |$)/);
    expect(replicaArgs).toMatch(/--replica-announce-ip redis-replica( |$)/);
    // Each its own data; the same users, rendered with the same passwords.
    const dataOf = (service: RenderedService) =>
      service.volumes!.find((volume) => volume.target === '/data')?.source;
    expect(dataOf(primary)).toBe('redis-data');
    expect(dataOf(replica)).toBe('redis-replica-data');
    expect(ha.volumes).toHaveProperty('redis-replica-data');
    expect(primary.environment).toEqual(replica.environment);
    for (const name of ['REDIS_REPLICA_PASSWORD', 'REDIS_FAILOVER_PASSWORD'])
      expect(primary.environment, name).toHaveProperty(name, passwordOf(name));
    for (const node of [primary, replica]) {
      expect(node.image).toBe('redis:7');
      expect(Object.keys(node.networks!)).toEqual(['data']);
      expect(node.ports).toBeUndefined();
      expect(node.healthcheck?.test.join(' ')).toContain('--user healthcheck');
      expect(node.volumes!.map((volume) => volume.target)).toEqual(
        expect.arrayContaining([
          '/etc/fortellis-admin/users.acl',
          '/etc/fortellis-admin/replication.acl',
          '/etc/fortellis-admin/render-ha.sh',
        ]),
      );
    }
    expect(replica.depends_on?.redis?.condition).toBe('service_healthy');
  });

  it('the replication users can replicate and fail over, and touch no key', () => {
    const users = Object.fromEntries(
      read('deploy/redis/replication.acl')
        .split('\n')
        .filter((line) => line.startsWith('user '))
        .map((line) => [line.split(' ')[1]!, line.split(' ').slice(2)]),
    );
    expect(Object.keys(users).sort()).toEqual(['failover', 'replica']);
    expect(users.replica).toEqual(
      expect.arrayContaining(['on', 'resetkeys', '-@all', '+psync', '+replconf', '+ping']),
    );
    for (const rules of Object.values(users)) {
      expect(rules.some((rule: string) => rule.startsWith('~') || rule.startsWith('%'))).toBe(
        false,
      );
      expect(rules.filter((rule: string) => rule.startsWith('#'))).toEqual([`#${'0'.repeat(64)}`]);
    }
    expect(users.failover).toContain('&__sentinel__:hello');
  });

  it('asks .env for exactly the three passwords it adds, and refuses to render without them', () => {
    const required = [...read('deploy/compose/ha.yml').matchAll(/\$\{([A-Z0-9_]+):\?/g)].map(
      (match) => match[1]!,
    );
    expect(
      [...new Set(required)].filter((name) => !COMPOSE_PASSWORDS.includes(name as never)).sort(),
    ).toEqual([...HA_PASSWORDS].sort());
    for (const missing of HA_PASSWORDS)
      expect(
        () =>
          render(
            HA_FILES,
            ALL_PASSWORDS.filter((name) => name !== missing),
          ),
        missing,
      ).toThrow(new RegExp(missing));
  });
});
