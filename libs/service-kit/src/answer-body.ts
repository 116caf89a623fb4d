// Reads an outside party's answer body with a size cap: a body larger than the cap is dropped
// unread past it (the connection is closed), so a partner answering megabytes costs no memory.
import type { Readable } from 'node:stream';

/** The most of an outside answer's body the workers read: 64 KiB. */
export const MAX_ANSWER_BYTES = 64 * 1024;

/** The body as text, or how far it went past the cap before reading stopped. */
export type CappedBody = { text: string } | { tooLarge: true; limit: number };

/**
 * Reads `body` as UTF-8 text, at most `limit` bytes. A declared `content-length` above the limit
 * is refused before any byte is read; an undeclared one (chunked) is read until it passes the
 * limit. Either way the stream is destroyed, which closes the connection instead of draining it.
 */
export async function readCappedBody(
  body: Readable,
  contentLength: string | string[] | undefined,
  limit: number = MAX_ANSWER_BYTES,
): Promise<CappedBody> {
  const declared = typeof contentLength === 'string' ? Number(contentLength) : Number.NaN;
  if (Number.isFinite(declared) && declared > limit) {
    body.destroy();
    return { tooLarge: true, limit };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer | string>) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += bytes.length;
    if (size > limit) {
      body.destroy();
      return { tooLarge: true, limit };
    }
    chunks.push(bytes);
  }
  return { text: Buffer.concat(chunks).toString('utf8') };
}

/** The error line of an answer too large to read: what failed, never any of its content. */
export function tooLargeError(status: number, limit: number): string {
  return `AnswerTooLarge: the HTTP ${status} answer's body exceeds ${limit} bytes`;
}
