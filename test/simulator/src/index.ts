// The public surface of the simulator library.
export * from './simulator.ts';
export * from './identity-provider.ts';
export * from './fault-script.ts';
export * from './recorder.ts';
export * from './payloads.ts';
export * from './driver.ts';
