// What one outbound HTTP attempt reported (an answer, or the reason there was none), how to read
// it, and an attempt made with a bearer token that is renewed once when refused. Pure: the
// request itself is made elsewhere (http-post.ts, undici), so the domain can import this freely.

/** One attempt at an outside party: its answer, or the reason there was none. */
export type HttpAttempt =
  | { answered: true; status: number; body: string; retryAfter?: string }
  | { answered: false; error: string };

/** The HTTP status of an attempt, undefined when there was no answer. */
export function statusOf(attempt: HttpAttempt): number | undefined {
  return attempt.answered ? attempt.status : undefined;
}

/** The Retry-After of an attempt, if the answer had one. */
export function retryAfterOf(attempt: HttpAttempt): string | undefined {
  return attempt.answered ? attempt.retryAfter : undefined;
}

/** Anything that hands out bearer tokens and can forget a refused one. */
export interface TokenSource {
  token(): Promise<string>;
  invalidate(token: string): void;
}

/**
 * Makes one authenticated attempt; when `classify` says a fresh token may help, forgets the token,
 * takes a new one and tries once more at once. Returns the last attempt and its verdict, and the
 * tokens it was sent with (to redact from anything kept of the answer).
 */
export async function attemptWithToken<V extends { kind: string }>(
  tokens: TokenSource,
  send: (token: string) => Promise<HttpAttempt>,
  classify: (attempt: HttpAttempt, reauthenticated: boolean) => V,
): Promise<{ attempt: HttpAttempt; verdict: V; reauthenticated: boolean; sentWith: string[] }> {
  const token = await tokens.token();
  const attempt = await send(token);
  const verdict = classify(attempt, false);
  if (verdict.kind !== 'reauthenticate')
    return { attempt, verdict, reauthenticated: false, sentWith: [token] };
  tokens.invalidate(token);
  const fresh = await tokens.token();
  const retried = await send(fresh);
  return {
    attempt: retried,
    verdict: classify(retried, true),
    reauthenticated: true,
    sentWith: [token, fresh],
  };
}
