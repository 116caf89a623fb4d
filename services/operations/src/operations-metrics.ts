// The operations service's Prometheus series: requests by route and status on its listener, and
// the process metrics, labelled service="operations". Served at its operator-authenticated /metrics.
import { Counter, type Registry } from 'prom-client';
import { createMetricsRegistry } from '@fortellis-admin/service-kit';

export interface OperationsMetrics {
  registry: Registry;
  request(route: string, status: number): void;
}

export function createOperationsMetrics(): OperationsMetrics {
  const registry = createMetricsRegistry('operations');
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'Requests by route and status',
    labelNames: ['route', 'status'],
    registers: [registry],
  });
  return {
    registry,
    request: (route, status) => requests.inc({ route, status: String(status) }),
  };
}
