// Graceful stop of a queue worker within a bound: let the jobs in hand finish; past the bound,
// close anyway, so their locks lapse and another worker takes them over (every step is idempotent).
import type { Logger } from 'pino';

/** The part of a BullMQ Worker this needs. */
export interface ClosableWorker {
  close(force?: boolean): Promise<void>;
}

export async function closeWorker(
  worker: ClosableWorker,
  shutdownTimeoutMs: number,
  logger: Logger,
): Promise<void> {
  const boundMs = Math.max(1000, shutdownTimeoutMs - 2000);
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), boundMs);
  });
  const outcome = await Promise.race([worker.close().then(() => 'closed' as const), bound]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    logger.warn({ boundMs }, 'jobs still running at the shutdown bound: releasing them');
    await worker.close(true);
  }
}
