// What a service's image and deployment give its process, so the benchmarks measure what ships:
// the Node flags of its image's CMD (deploy/Dockerfile) and its memory limit (deploy/k8s/base).
import { readFileSync } from 'node:fs';

/**
 * The Node flags a target's image starts it with: the options before the entry point in the last
 * CMD of deploy/Dockerfile's stage for it (ENTRYPOINT is tini -- node).
 */
export function imageNodeFlags(target: string): string {
  const dockerfile = readFileSync(new URL('../deploy/Dockerfile', import.meta.url), 'utf8');
  const stage = dockerfile.split(/^FROM /m).find((part) => part.includes(` AS ${target}\n`)) ?? '';
  const cmd = [...stage.matchAll(/^CMD (\[.*\])$/gm)].at(-1)?.[1];
  const args = cmd === undefined ? [] : (JSON.parse(cmd) as string[]);
  return args.filter((arg) => arg.startsWith('--')).join(' ');
}

/** The service's memory limit in the Kubernetes base, in MiB (NaN when none is found). */
export function memoryLimitMiB(service: string): number {
  const manifest = readFileSync(
    new URL(`../deploy/k8s/base/${service}.yaml`, import.meta.url),
    'utf8',
  );
  return Number(/limits:\s*\{[^}]*memory:\s*(\d+)Mi/.exec(manifest)?.[1] ?? Number.NaN);
}
