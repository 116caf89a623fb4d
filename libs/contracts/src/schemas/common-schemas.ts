// Building blocks shared by the payload schemas: identifiers, timestamps, links and errors.

/** The custom ajv format name for Fortellis GUIDs (8-4-4-4-12 hex digits, any case, no braces). */
export const GUID_FORMAT = 'guid';

/** The pattern behind {@link GUID_FORMAT}. */
export const GUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const guidSchema = { type: 'string', format: GUID_FORMAT } as const;

/** An ISO 8601 instant with a time zone, as produced by `Date.prototype.toISOString()`. */
export const instantSchema = { type: 'string', format: 'date-time' } as const;

/**
 * A request id as carried through the system: Fortellis sends a GUID in `Request-Id`, but other
 * tooling may send anything printable, so any visible ASCII string up to 128 characters is kept.
 */
export const requestIdSchema = {
  type: 'string',
  minLength: 1,
  maxLength: 128,
  pattern: '^[\\x21-\\x7e]+$',
} as const;

/** One entry of the `links` array Fortellis expects in a 200 answer: `href` and `rel` required. */
export const linkSchema = {
  type: 'object',
  required: ['href', 'rel'],
  properties: {
    href: { type: 'string', minLength: 1 },
    rel: { type: 'string', minLength: 1 },
    method: { type: 'string' },
    title: { type: 'string' },
  },
  additionalProperties: false,
} as const;
