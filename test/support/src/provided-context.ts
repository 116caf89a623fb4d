// The values the global set-up provides to every test file through vitest's inject().
declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    mongoUrl: string;
  }
}

export {};
