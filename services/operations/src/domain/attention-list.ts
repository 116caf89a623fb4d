// What needs an operator now, for the page the console opens on: the connections held for review,
// those whose callback or provisioning was given up, deactivations with a clean-up or report
// given up, and suspensions Fortellis has not yet acknowledged. Each kind is one query the
// repository's `state` index serves, the one waiting longest first.
import {
  ATTENTION_KINDS,
  type AttentionKind,
  type ConnectionDocument,
} from '@fortellis-admin/connection-store';
import type { OperationsRepository } from './ports.ts';

/** How many connections of each kind the list shows at most (it says when there are more). */
export const ATTENTION_LIMIT = 50;

/** What each kind means to an operator, and what they can do about it. */
export const ATTENTION_TITLES: Readonly<Record<AttentionKind, string>> = {
  pending_review: 'Held for review: approve or reject',
  callback_failed: 'Callback given up: retry it',
  provisioning_failed: 'Provisioning given up: retry it',
  steps_failed: 'Clean-up or report given up after a deactivation: retry it',
  suspending: 'Suspension in flight: Fortellis has not acknowledged it yet',
};

export interface AttentionGroup<C> {
  kind: AttentionKind;
  title: string;
  connections: C[];
  /** True when more connections of this kind wait than are listed. */
  more: boolean;
}

/** Every kind, in the order above, each with its connections (mapped by `show`). */
export async function attentionList<C>(
  repo: Pick<OperationsRepository, 'needingAttention'>,
  show: (connection: ConnectionDocument) => C,
  limit: number = ATTENTION_LIMIT,
): Promise<Array<AttentionGroup<C>>> {
  const found = await Promise.all(
    ATTENTION_KINDS.map((kind) => repo.needingAttention(kind, limit)),
  );
  return ATTENTION_KINDS.map((kind, i) => {
    const connections = found[i] ?? [];
    return {
      kind,
      title: ATTENTION_TITLES[kind],
      connections: connections.slice(0, limit).map(show),
      more: connections.length > limit,
    };
  });
}
