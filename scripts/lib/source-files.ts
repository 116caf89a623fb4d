// The TypeScript files of a folder, for the checks of `npm run lint` (check-dependencies.ts,
// check-sizes.ts): every `.ts` file below it, node_modules aside.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every `.ts` file below `dir` (none when `dir` does not exist), node_modules aside. */
export function typeScriptFilesBelow(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const entry of entries) {
    if (entry === 'node_modules') continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...typeScriptFilesBelow(path));
    else if (path.endsWith('.ts')) found.push(path);
  }
  return found;
}
