// Importing a pure helper loads no driver or framework: `@fortellis-admin/service-kit/pure`, the
// libraries the domain builds on and every module of services/*/src/domain are imported in a fresh
// Node process that records each module it loads and who imported it. The same probe, handed the
// drivers themselves, shows that it sees each of them when one is loaded.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../../', import.meta.url);

/** What a pure module must never load, directly or through anything it imports. */
const DRIVERS_AND_FRAMEWORKS = [
  'bullmq',
  'fastify',
  'ioredis',
  'mongodb',
  'pino',
  'prom-client',
  'undici',
];

// Runs in the child: registers synchronous module hooks (they see `import` and `require` alike),
// imports each entry, then prints every loaded module's URL with the URL of its first importer.
const PROBE = `
import { registerHooks } from 'node:module';
const importers = new Map();
const loaded = [];
registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    if (!importers.has(resolved.url)) importers.set(resolved.url, context.parentURL);
    return resolved;
  },
  load(url, context, nextLoad) {
    loaded.push(url);
    return nextLoad(url, context);
  },
});
for (const entry of JSON.parse(process.env.PURE_PROBE_ENTRIES)) await import(entry);
process.stdout.write(JSON.stringify(loaded.map((url) => [url, importers.get(url) ?? null])));
`;

/** The npm package a module URL lies in, or undefined for one of the repository's own files. */
function packageOf(url: string): string | undefined {
  const inModules = url.split('/node_modules/').at(-1);
  if (inModules === undefined || inModules === url) return undefined;
  const parts = inModules.split('/');
  return parts[0]?.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** A URL as a reader finds it: relative to the repository. */
function shown(url: string): string {
  return url.startsWith(ROOT.href) ? url.slice(ROOT.href.length) : url;
}

/**
 * Imports `entries` (bare specifiers or file URLs) in a fresh Node process, from the repository's
 * root. Answers, for each of the drivers and frameworks that got loaded, the chain of imports
 * that brought it in, from the driver back to an entry.
 */
async function driversLoadedBy(entries: readonly string[]): Promise<Record<string, string>> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '--eval', PROBE],
    {
      cwd: fileURLToPath(ROOT),
      env: { ...process.env, PURE_PROBE_ENTRIES: JSON.stringify(entries) },
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const loaded = JSON.parse(stdout) as Array<[string, string | null]>;
  const importerOf = new Map(loaded);
  const chains: Record<string, string> = {};
  for (const [url] of loaded) {
    const name = packageOf(url);
    if (name === undefined || !DRIVERS_AND_FRAMEWORKS.includes(name) || name in chains) continue;
    const chain = [url];
    let at = importerOf.get(url);
    // Up to the entry, which the probe itself (`[eval1]`) imported.
    while (at != null && !at.endsWith('/[eval1]') && !chain.includes(at)) {
      chain.push(at);
      at = importerOf.get(at);
    }
    chains[name] = chain.map(shown).join(' <- ');
  }
  return chains;
}

/** Every production module of a service's domain, as file URLs. */
function domainModules(service: string): string[] {
  const domain = new URL(`services/${service}/src/domain/`, ROOT);
  return readdirSync(domain, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'))
    .sort()
    .map((file) => new URL(file, domain).href);
}

const SERVICES_WITH_A_DOMAIN = readdirSync(new URL('services/', ROOT)).filter((service) =>
  existsSync(new URL(`services/${service}/src/domain/`, ROOT)),
);

/** The library entries the domain imports values from. */
const PURE_LIBRARIES = [
  '@fortellis-admin/service-kit/pure',
  '@fortellis-admin/contracts',
  '@fortellis-admin/connection-store',
  '@fortellis-admin/approval-rules',
];

describe('the pure entry points', () => {
  // One process for all of them (each process costs the unit run a second); a failure names the
  // chain of imports from the driver back to the entry that brought it in.
  it('service-kit/pure, the libraries and every module of services/*/src/domain load no driver or framework', async () => {
    const modules = SERVICES_WITH_A_DOMAIN.map(domainModules);
    for (const [index, service] of SERVICES_WITH_A_DOMAIN.entries()) {
      expect(modules[index]?.length, service).toBeGreaterThan(0);
    }
    expect(await driversLoadedBy([...PURE_LIBRARIES, ...modules.flat()])).toEqual({});
  });

  it('the probe names each driver and framework when one is loaded', async () => {
    const chains = await driversLoadedBy(DRIVERS_AND_FRAMEWORKS);
    expect(Object.keys(chains).sort()).toEqual([...DRIVERS_AND_FRAMEWORKS].sort());
  });
});
