// Where `npm run dev` says where the running stack listens (removed when it stops), for
// `npm run demo` to read. DEV_STACK_FILE moves it (the dev-stack test does).
export const STACK_FILE: string | URL =
  process.env.DEV_STACK_FILE ?? new URL('../.dev-stack.json', import.meta.url);
