// Reads the `return` preference of a Prefer header (RFC 7240): Fortellis sends
// `return=representation` or `return=minimal`.

/**
 * True when the caller prefers `return=minimal`. Preference names and these values compare without
 * case, a value may be quoted, parameters after `;` are ignored, and when `return` is given more
 * than once only the first counts (RFC 7240, section 2). Several Prefer headers arrive joined
 * with commas.
 */
export function prefersMinimalReturn(header: string | string[] | undefined): boolean {
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  for (const preference of text.split(',')) {
    const [pair = ''] = preference.split(';');
    const at = pair.indexOf('=');
    const name = (at === -1 ? pair : pair.slice(0, at)).trim().toLowerCase();
    if (name !== 'return') continue;
    const value =
      at === -1
        ? ''
        : pair
            .slice(at + 1)
            .trim()
            .replace(/^"(.*)"$/, '$1');
    return value.toLowerCase() === 'minimal';
  }
  return false;
}
