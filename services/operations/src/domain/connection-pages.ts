// Paging through connections for operators: newest first, with an opaque cursor that names the
// last connection of a page (its creation time and id).
import { ContractViolationError } from '@fortellis-admin/contracts';
import type {
  ConnectionDocument,
  ConnectionFilter,
  ListCursor,
} from '@fortellis-admin/connection-store';
import type { OperationsRepository } from './ports.ts';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

export function encodeCursor(cursor: ListCursor): string {
  return Buffer.from(`${cursor.createdAt.toISOString()}|${cursor.id}`).toString('base64url');
}

export function decodeCursor(raw: string): ListCursor {
  const [at, id] = Buffer.from(raw, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at ?? '');
  if (id === undefined || id === '' || Number.isNaN(createdAt.getTime())) {
    throw new ContractViolationError('cursor', [
      { pointer: '/cursor', message: 'is not a cursor this API gave out' },
    ]);
  }
  return { createdAt, id };
}

/** One page of connections and the cursor of the next one (null on the last page). */
export async function connectionPage(
  repo: Pick<OperationsRepository, 'list'>,
  filter: ConnectionFilter,
  limit: number,
  cursor?: string,
): Promise<{ items: ConnectionDocument[]; nextCursor: string | null }> {
  // The repository returns one more than asked when another page follows.
  const page = await repo.list(
    filter,
    limit,
    cursor === undefined ? undefined : decodeCursor(cursor),
  );
  const items = page.slice(0, limit);
  const last = items.at(-1);
  return {
    items,
    nextCursor:
      page.length > limit && last !== undefined
        ? encodeCursor({ createdAt: last.createdAt, id: last._id })
        : null,
  };
}
