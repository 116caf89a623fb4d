// What the workers may keep of an outside party's answer after a failed call, for operators to
// read: never a body that could hold a secret. Which parties' bodies are kept at all is the
// caller's decision (no body of the provider's backend, none of a callback that carried the
// buyer's credentials); this removes what the call itself sent that is secret. Pure.

/** The most of a kept body, after redaction: enough to read an error message. */
export const KEPT_BODY_CHARS = 1000;

const REDACTED = '[redacted]';

/**
 * `body` with every secret the call carried (its bearer token, say) replaced, as sent and as a
 * JSON string would escape it, then cut to {@link KEPT_BODY_CHARS}.
 */
export function redactedBody(body: string, secrets: readonly string[]): string {
  const forms = secrets
    .filter((secret) => secret.length > 0)
    .flatMap((secret) => [secret, JSON.stringify(secret).slice(1, -1)])
    // The longest first, so that a secret containing another is replaced whole.
    .sort((a, b) => b.length - a.length);
  let kept = body;
  for (const form of forms) kept = kept.split(form).join(REDACTED);
  return kept.length > KEPT_BODY_CHARS ? `${kept.slice(0, KEPT_BODY_CHARS)}…` : kept;
}
