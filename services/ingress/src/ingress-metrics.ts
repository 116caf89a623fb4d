// The ingress's Prometheus series: requests by route and status and how long they took, refused
// tokens by reason, and how long publishing a job takes (names from the catalog in service-kit).
// Served on the monitoring listener, never the Fortellis port.
import type { Registry } from 'prom-client';
import { createMetric, createMetricsRegistry } from '@fortellis-admin/service-kit';

export interface IngressMetrics {
  registry: Registry;
  request(route: string, status: number, seconds: number): void;
  authFailure(reason: string): void;
  enqueued(seconds: number): void;
  jwksFetch(outcome: 'success' | 'failure'): void;
}

export function createIngressMetrics(): IngressMetrics {
  const registry = createMetricsRegistry('ingress');
  const requests = createMetric(registry, 'httpRequests');
  const durations = createMetric(registry, 'httpRequestDuration');
  const authFailures = createMetric(registry, 'authFailures');
  const enqueue = createMetric(registry, 'enqueueDuration');
  const jwksFetches = createMetric(registry, 'jwksFetches');
  return {
    registry,
    request: (route, status, seconds) => {
      requests.inc({ route, status: String(status) });
      durations.observe({ route, status: String(status) }, seconds);
    },
    authFailure: (reason) => authFailures.inc({ reason }),
    enqueued: (seconds) => enqueue.observe(seconds),
    jwksFetch: (outcome) => jwksFetches.inc({ outcome }),
  };
}
