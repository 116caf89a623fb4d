// What a Service and its endpoints do for the ingress replicas of a fault scenario, modelled on the
// deployment (deploy/k8s/base/ingress.yaml): each replica's /ready is probed when it joins, then
// every 5 s (periodSeconds), within 3 s (timeoutSeconds); it leaves the rotation after 2 failed
// probes in a row (failureThreshold) and rejoins on the next success. A replica being terminated
// leaves the rotation 1 s after its SIGTERM, whatever its probes say: endpoints drop a terminating
// pod, but load balancers learn it late, which the ingress's drain covers. Calls go round-robin.
import { Agent, createServer, request, type Server } from 'node:http';
import type { ManagedProcess } from '@fortellis-admin/test-support';

const PROBE_PERIOD_MS = 5000;
const PROBE_TIMEOUT_MS = 3000;
const FAILURE_THRESHOLD = 2;
/** How long after a pod's SIGTERM the load balancer still sends it calls. */
const ENDPOINT_LAG_MS = 1000;

/** A replica of the ingress: its process, ports, and what the front knows of it. */
export interface IngressReplica {
  process: ManagedProcess;
  port: number;
  monitoringPort: number;
  /** In the rotation: its last probe succeeded, or fewer than FAILURE_THRESHOLD failed since. */
  ready: boolean;
  failures: number;
  nextProbeAt: number;
  probing: boolean;
  /** When it was sent SIGTERM (or killed), if it was. */
  retiredAt?: number;
}

export interface IngressFront {
  /** Takes a replica out of the rotation, ENDPOINT_LAG_MS from now: it is being terminated. */
  retire(replica: IngressReplica): void;
  stop(): Promise<void>;
}

/** A replica as it joins: probed at once, not in the rotation until a probe says ready. */
export function joining(
  process: ManagedProcess,
  port: number,
  monitoringPort: number,
): IngressReplica {
  return {
    process,
    port,
    monitoringPort,
    ready: false,
    failures: 0,
    nextProbeAt: 0,
    probing: false,
  };
}

export function startFront(port: number, replicas: readonly IngressReplica[]): IngressFront {
  const agent = new Agent({ keepAlive: true });
  const probes = setInterval(() => {
    for (const replica of replicas)
      if (!replica.probing && Date.now() >= replica.nextProbeAt) probe(replica, agent);
  }, 100);
  let next = 0;
  const server: Server = createServer((incoming, outgoing) => {
    const now = Date.now();
    const ready = replicas.filter(
      (r) => r.ready && (r.retiredAt === undefined || now - r.retiredAt < ENDPOINT_LAG_MS),
    );
    const target = ready[next++ % Math.max(1, ready.length)];
    if (target === undefined) {
      outgoing.writeHead(503).end();
      return;
    }
    const forward = request(
      {
        host: '127.0.0.1',
        port: target.port,
        method: incoming.method,
        path: incoming.url,
        headers: incoming.headers,
        agent,
      },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    forward.once('error', () => {
      if (!outgoing.headersSent) outgoing.writeHead(502).end();
      else outgoing.destroy();
    });
    incoming.pipe(forward);
  });
  // A load balancer keeps idle client connections longer than its clients do: with Node's 5 s
  // default, the front closed a connection the caller (10 s, and told 72 s by the ingress's
  // Keep-Alive header it forwards) was just reusing, and the call died with ECONNRESET unanswered.
  server.keepAliveTimeout = 75_000;
  server.listen(port, '127.0.0.1');
  return {
    retire: (replica) => {
      replica.retiredAt = Date.now();
    },
    stop: async () => {
      clearInterval(probes);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

/**
 * One readiness probe of `replica`; the next is due PROBE_PERIOD_MS after this one started (1 s
 * while it has not been ready yet, so a joining replica enters the rotation without a 5 s wait).
 */
function probe(replica: IngressReplica, agent: Agent): void {
  replica.probing = true;
  replica.nextProbeAt = Date.now() + (replica.ready ? PROBE_PERIOD_MS : 1000);
  const settle = (ok: boolean): void => {
    if (!replica.probing) return;
    replica.probing = false;
    replica.failures = ok ? 0 : replica.failures + 1;
    if (ok) replica.ready = true;
    else if (replica.failures >= FAILURE_THRESHOLD) replica.ready = false;
  };
  const check = request(
    {
      host: '127.0.0.1',
      port: replica.monitoringPort,
      path: '/ready',
      agent,
      timeout: PROBE_TIMEOUT_MS,
    },
    (answer) => {
      answer.resume();
      settle(answer.statusCode === 200);
    },
  );
  check.once('error', () => settle(false));
  check.once('timeout', () => check.destroy());
  check.end();
}
