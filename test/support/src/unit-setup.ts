// vitest set-up file of the `unit` project, which runs without the global set-up: no Redis, no
// MongoDB-wire server. A unit test that reaches for them (directly or through a helper calling
// `inject('redisUrl')` / `inject('mongoUrl')`) fails at once with a message saying so, instead of
// handing `undefined` to a driver that then waits or connects to whatever listens on the defaults.
import './provided-context.ts';

const HOME = 'it needs a server, so it belongs in the integration project (see vitest.config.ts)';

// `inject()` reads vitest's per-file worker state; vitest has no public hook to refuse a key, so
// the guard wraps that state's provided context. If vitest's internals move, say so loudly rather
// than run unguarded.
const state = (globalThis as { __vitest_worker__?: { providedContext?: object } })
  .__vitest_worker__;
if (state?.providedContext === undefined) {
  throw new Error(
    'unit-setup: vitest worker state not found; update test/support/src/unit-setup.ts for this vitest version',
  );
}
const provided = state.providedContext;
state.providedContext = new Proxy(provided, {
  get(target, key, receiver) {
    if (typeof key === 'string' && !Reflect.has(target, key)) {
      throw new Error(`inject('${key}') in a unit test: ${HOME}`);
    }
    return Reflect.get(target, key, receiver) as unknown;
  },
});
