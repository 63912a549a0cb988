/**
 * Who is online now and in which file, from jupyter-collaboration's global awareness: every
 * lab on the server publishes its user's identity (`user`, from the server's identity
 * provider: the hub's display name, initials, avatar and colour) and the document it shows
 * (`current`, such as `notebook:analysis/train.ipynb`).
 */
import type { User } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';
import type { Awareness } from 'y-protocols/awareness';

export interface IPresence {
  /** The awareness client id (one per open lab: a person may have several). */
  clientId: number;
  user: User.IIdentity;
  /** The path of the document in front, or null. */
  path: string | null;
  /** This lab. */
  isMe: boolean;
}

/** `notebook:a/b.ipynb` → `a/b.ipynb`; anything else (a launcher, nothing) → null. */
export function currentPath(current: unknown): string | null {
  if (typeof current !== 'string') {
    return null;
  }
  const match = /^[\w-]+:(.+)$/.exec(current);
  return match ? match[1] : null;
}

/**
 * The people in the global awareness, one entry per person (their lab with a document in
 * front wins), sorted by display name, the current user first.
 */
export function people(awareness: Awareness): IPresence[] {
  const byUser = new Map<string, IPresence>();
  awareness.getStates().forEach((state, clientId) => {
    const user = state.user as User.IIdentity | undefined;
    if (!user || typeof user.username !== 'string') {
      return;
    }
    const entry: IPresence = {
      clientId,
      user,
      path: currentPath(state.current),
      isMe: clientId === awareness.clientID
    };
    const seen = byUser.get(user.username);
    if (!seen || (!seen.path && entry.path) || entry.isMe) {
      byUser.set(user.username, { ...entry, isMe: entry.isMe || !!seen?.isMe });
    }
  });
  return [...byUser.values()].sort((a, b) => {
    if (a.isMe !== b.isMe) {
      return a.isMe ? -1 : 1;
    }
    const an = a.user.display_name || a.user.username;
    const bn = b.user.display_name || b.user.username;
    return an.localeCompare(bn);
  });
}

/**
 * A live view of {@link people}.
 */
export class Presence {
  constructor(readonly awareness: Awareness) {
    awareness.on('change', this._onChange);
  }

  get people(): IPresence[] {
    return people(this.awareness);
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  dispose(): void {
    this.awareness.off('change', this._onChange);
    Signal.clearData(this);
  }

  private _onChange = () => this._changed.emit();
  private _changed = new Signal<this, void>(this);
}
