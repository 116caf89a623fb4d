// The operations service's Prometheus series: requests by route and status on its listener and
// how long they took, the age of the longest-waiting connection in each waiting state, and the
// process metrics, labelled service="operations". Served at its operator-authenticated /metrics.
import type { Registry } from 'prom-client';
import { createMetric, createMetricsRegistry } from '@fortellis-admin/service-kit';

export interface OperationsMetrics {
  registry: Registry;
  request(route: string, status: number, seconds: number): void;
}

/** When the longest-waiting connection of each waiting state last changed (absent: none waits). */
export type OldestWaiting = () => Promise<Partial<Record<WaitingState, Date>>>;

/** The states in which a connection waits for work (a decision, a provisioning, a callback). */
export const WAITING_STATES = [
  'received',
  'pending_review',
  'approved',
  'rejected',
  'suspending',
] as const;
export type WaitingState = (typeof WAITING_STATES)[number];

export function createOperationsMetrics(
  oldestWaiting?: OldestWaiting,
  now: () => Date = () => new Date(),
): OperationsMetrics {
  const registry = createMetricsRegistry('operations');
  const requests = createMetric(registry, 'httpRequests');
  const durations = createMetric(registry, 'httpRequestDuration');
  if (oldestWaiting !== undefined) {
    createMetric(registry, 'oldestConnectionAge', async function collect() {
      let oldest;
      try {
        oldest = await oldestWaiting();
      } catch {
        // MongoDB did not answer: no value rather than a stale one, and the rest of the scrape
        // still goes out.
        this.reset();
        return;
      }
      for (const state of WAITING_STATES) {
        const since = oldest[state];
        this.set(
          { state },
          since === undefined ? 0 : Math.max(0, (now().getTime() - since.getTime()) / 1000),
        );
      }
    });
  }
  return {
    registry,
    request: (route, status, seconds) => {
      requests.inc({ route, status: String(status) });
      durations.observe({ route, status: String(status) }, seconds);
    },
  };
}
