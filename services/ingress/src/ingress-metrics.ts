// The ingress's Prometheus series: requests by route and status, refused tokens by reason, and
// how long publishing a job takes. Served on the monitoring listener, never the Fortellis port.
import { Counter, Histogram, type Registry } from 'prom-client';
import { createMetricsRegistry } from '@fortellis-admin/service-kit';

export interface IngressMetrics {
  registry: Registry;
  request(route: string, status: number): void;
  authFailure(reason: string): void;
  enqueued(seconds: number): void;
}

export function createIngressMetrics(): IngressMetrics {
  const registry = createMetricsRegistry('ingress');
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'Requests by route and status',
    labelNames: ['route', 'status'],
    registers: [registry],
  });
  const authFailures = new Counter({
    name: 'auth_failures_total',
    help: 'Refused bearer tokens by reason',
    labelNames: ['reason'],
    registers: [registry],
  });
  const enqueue = new Histogram({
    name: 'enqueue_duration_seconds',
    help: 'Time from publishing a job to Redis having stored it',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2],
    registers: [registry],
  });
  return {
    registry,
    request: (route, status) => requests.inc({ route, status: String(status) }),
    authFailure: (reason) => authFailures.inc({ reason }),
    enqueued: (seconds) => enqueue.observe(seconds),
  };
}
