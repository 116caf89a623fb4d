// Part of `npm run lint`: every workspace declares what its code imports, and imports what it
// declares in `dependencies`. A package imported but not declared works only by hoisting; one
// declared but never imported is dead weight in the images. Reads the code as text: each
// `from '<pkg>'`, `import('<pkg>')` and `require('<pkg>')` of a bare package name.
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { typeScriptFilesBelow } from './lib/source-files.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  workspaces: string[];
};

/** Every .ts file below `dir`, node_modules aside. */
const sources = typeScriptFilesBelow;

const IMPORT = /(?:from\s+|import\s*\(\s*|require\s*\(\s*)'([^'./][^']*)'/g;

/** The package a specifier names: `@scope/name` or `name`, without a subpath. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

const problems: string[] = [];
for (const workspace of rootManifest.workspaces) {
  const manifest = JSON.parse(readFileSync(join(root, workspace, 'package.json'), 'utf8')) as {
    name: string;
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  const declared = new Set(Object.keys(manifest.dependencies ?? {}));
  const dev = new Set(Object.keys(manifest.devDependencies ?? {}));
  const imported = new Map<string, 'src' | 'test'>();
  for (const file of sources(join(root, workspace))) {
    // A test workspace (the simulator, test support) is test code throughout.
    const testOnly = workspace.startsWith('test/');
    const where =
      !testOnly && file.includes('/src/') && !file.endsWith('.test.ts') ? 'src' : 'test';
    for (const match of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const name = packageOf(match[1] ?? '');
      if (name.startsWith('node:') || builtinModules.includes(name) || name === manifest.name)
        continue;
      if (imported.get(name) !== 'src') imported.set(name, where);
    }
  }
  for (const name of declared)
    if (!imported.has(name))
      problems.push(`${workspace}: "${name}" is a dependency but never imported`);
  for (const [name, where] of imported) {
    if (declared.has(name)) continue;
    if (where === 'test' && (dev.has(name) || rootDevDependency(name))) continue;
    problems.push(`${workspace}: imports "${name}" (${where}) without declaring it`);
  }
}

/** Test code may use the root's tooling (vitest, playwright-core). */
function rootDevDependency(name: string): boolean {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    devDependencies?: Record<string, string>;
  };
  return name in (manifest.devDependencies ?? {});
}

if (problems.length > 0) {
  process.stderr.write(`${problems.join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(
  `dependencies: ${rootManifest.workspaces.length} workspaces declare what they import\n`,
);
