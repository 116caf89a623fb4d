// Debian's Chromium for the browser tests, driven by playwright-core (never a downloaded browser),
// headless, with the flags that keep it from reaching for Google's hosts on a closed network.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { chromium, type Browser } from 'playwright-core';
import { REPO_ROOT } from './service-processes.ts';

/** Where the browser tests leave their screenshots. */
export const ARTIFACTS = `${REPO_ROOT}test-artifacts`;

export async function launchChromium(): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(executablePath))
    throw new Error(
      `no Chromium at ${executablePath}: run \`npm run infra:install\` (Debian's chromium)`,
    );
  await mkdir(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
