// Stand-ins for the public images docker-compose.yml runs beside the services, which cannot be
// pulled where Docker Hub is out of reach: Redis from Debian's package (redis.Dockerfile) and
// FerretDB, a MongoDB-wire server (ferretdb.Dockerfile, the static binary `npm run
// infra:install` builds), both on the Debian base the services' images are built from. Used by
// the compose test and the `podman kube play` test.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  REPO_ROOT,
  engineCommand,
  findFerretDb,
  imageExists,
  withBuildLock,
  type ContainerEngine,
} from '@fortellis-admin/test-support';

const HERE = `${REPO_ROOT}test/deploy/compose/`;

export interface Standins {
  redis: string;
  mongo: string;
}

/** The stand-ins' image names for a tag (the override reads them as ${STANDIN_TAG}). */
export function standinImages(tag: string): Standins {
  return {
    redis: `fortellis-admin-test/redis:${tag}`,
    mongo: `fortellis-admin-test/ferretdb:${tag}`,
  };
}

/**
 * The stand-ins for what they are built from (their Dockerfiles, Redis's entry point, the FerretDB
 * binary, the base image), built where absent: the compose and `kube play` tests share them.
 */
export async function ensureStandins(engine: ContainerEngine): Promise<Standins & { tag: string }> {
  const hash = createHash('sha256').update(engine.baseImage ?? '');
  for (const file of ['redis.Dockerfile', 'redis-entrypoint.sh', 'ferretdb.Dockerfile'])
    hash.update(readFileSync(`${HERE}${file}`));
  const ferretdb = findFerretDb();
  if (ferretdb !== undefined) hash.update(readFileSync(ferretdb));
  const tag = `ctx-${hash.digest('hex').slice(0, 16)}`;
  return withBuildLock('standins', async () => {
    const images = standinImages(tag);
    const present = await Promise.all(
      [images.redis, images.mongo].map((i) => imageExists(engine, i)),
    );
    return { ...(present.every(Boolean) ? images : await buildStandins(engine, tag)), tag };
  });
}

/** Builds both stand-ins, tagged `tag`, on the engine's base image. */
export async function buildStandins(engine: ContainerEngine, tag: string): Promise<Standins> {
  const images = standinImages(tag);
  const base = engine.baseImage;
  if (base === undefined)
    throw new Error('no base image for the stand-ins: run `npm run infra:install`');
  const ferretdb = findFerretDb();
  if (ferretdb === undefined) throw new Error('no FerretDB binary: run `npm run infra:install`');
  // podman's default (OCI) format drops HEALTHCHECK; the stand-ins have none, but keep the
  // services' format for all images of a run.
  const format = engine.kind === 'podman' ? ['--format', 'docker'] : [];
  const build = (dockerfile: string, image: string, context: string): Promise<unknown> =>
    engineCommand(
      engine,
      [
        'build',
        ...format,
        '--build-arg',
        `BASE_IMAGE=${base}`,
        '-f',
        dockerfile,
        '-t',
        image,
        context,
      ],
      { timeoutMs: 600_000 },
    );
  await build(`${HERE}redis.Dockerfile`, images.redis, HERE);
  // FerretDB's context holds the binary alone (not the whole repository).
  const context = mkdtempSync(join(tmpdir(), 'ferretdb-image-'));
  try {
    copyFileSync(ferretdb, join(context, 'ferretdb'));
    await build(`${HERE}ferretdb.Dockerfile`, images.mongo, context);
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
  return images;
}
