// Strips credentials from URLs inside any text before it is printed: the user:password of
// `scheme://user:password@host` and secret-looking query parameters (`?password=...`).

/** `scheme://` then anything up to the last `@` of the same word: the userinfo, however malformed. */
const USERINFO = /([a-z][a-z0-9+.-]*:\/\/)[^\s"'<>`]*@/gi;
/** Query parameters that carry a secret in some drivers' URLs. */
const QUERY_SECRET = /([?&;](?:password|pass|pwd|secret|token|auth)=)[^&;#\s"'<>`]*/gi;

/** Text with every URL's user:password (and secret query parameters) replaced by `[redacted]`. */
export function redactUrlCredentials(text: string): string {
  return text.replace(USERINFO, '$1[redacted]@').replace(QUERY_SECRET, '$1[redacted]');
}

/**
 * A copy of `value` (an error serialized for a log line, say) with {@link redactUrlCredentials}
 * applied to every string inside it, a few levels deep. Drivers put the URL they could not parse
 * in an error's message or in a field of it (Node's `ERR_INVALID_URL` keeps the whole input).
 */
export function redactUrlCredentialsDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactUrlCredentials(value);
  if (value === null || typeof value !== 'object' || depth > 6) return value;
  if (Array.isArray(value)) return value.map((item) => redactUrlCredentialsDeep(item, depth + 1));
  const copy: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    copy[key] = redactUrlCredentialsDeep(inner, depth + 1);
  }
  return copy;
}
