import './provided-context.ts';
// The public surface of the test support package.
export * from './infrastructure.ts';
export * from './processes.ts';
export * from './isolation.ts';
export * from './service-processes.ts';
export * from './log-capture.ts';
export * from './jobs.ts';
export * from './fixtures.ts';
export * from './controllable-servers.ts';
export * from './container-engine.ts';
export * from './redis-topology.ts';
export * from './toxiproxy.ts';
