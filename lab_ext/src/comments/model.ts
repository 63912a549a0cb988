/**
 * Comment state in the browser: the threads of one open notebook, kept live from the
 * websocket, and the user's unread mentions. The filtering and counting are pure functions.
 */
import { ISignal, Signal } from '@lumino/signaling';

import * as api from './api';
import type { ICommentEvent, IThread } from './api';

/**
 * The side panel's filters.
 */
export type ThreadFilter = 'all' | 'open' | 'resolved' | 'mine' | 'mentions';

export const FILTERS: ThreadFilter[] = [
  'all',
  'open',
  'resolved',
  'mine',
  'mentions'
];

/**
 * Whether `thread` passes `filter` for the user `me`.
 */
export function matches(
  thread: IThread,
  filter: ThreadFilter,
  me: string
): boolean {
  switch (filter) {
    case 'open':
      return !thread.resolved;
    case 'resolved':
      return thread.resolved;
    case 'mine':
      return thread.comments.some(c => c.author.username === me);
    case 'mentions':
      return thread.comments.some(c => c.mentions.includes(me));
    default:
      return true;
  }
}

/**
 * How many threads (open or not) each cell has, on the cell itself and on each output.
 */
export interface IAnchorCounts {
  cell: number;
  outputs: Map<number, number>;
}

export function countByCell(
  threads: Iterable<IThread>
): Map<string, IAnchorCounts> {
  const counts = new Map<string, IAnchorCounts>();
  for (const t of threads) {
    let c = counts.get(t.cell_id);
    if (!c) {
      c = { cell: 0, outputs: new Map() };
      counts.set(t.cell_id, c);
    }
    if (t.output_index === null || t.output_index === undefined) {
      c.cell += 1;
    } else {
      c.outputs.set(t.output_index, (c.outputs.get(t.output_index) ?? 0) + 1);
    }
  }
  return counts;
}

/**
 * Threads in notebook order (by their cell's position; outdated ones last), then oldest first.
 */
export function sortThreads(
  threads: Iterable<IThread>,
  cellOrder: string[]
): IThread[] {
  const pos = new Map(cellOrder.map((id, i) => [id, i]));
  const rank = (t: IThread) => pos.get(t.cell_id) ?? Number.MAX_SAFE_INTEGER;
  return [...threads].sort(
    (a, b) =>
      rank(a) - rank(b) ||
      (a.output_index ?? -1) - (b.output_index ?? -1) ||
      a.created_at.localeCompare(b.created_at)
  );
}

/**
 * The threads of one notebook, live.
 */
export class NotebookThreads {
  constructor(
    readonly fileId: string,
    public path: string,
    threads: IThread[]
  ) {
    for (const t of threads) {
      this._threads.set(t.id, t);
    }
    this._events = new api.CommentEvents(
      fileId,
      event => this.apply(event),
      () => void this.refresh()
    );
  }

  /**
   * Open a notebook's threads by its path (the server resolves the file id).
   */
  static async open(path: string): Promise<NotebookThreads> {
    const list = await api.listThreads({ path });
    return new NotebookThreads(list.file_id, list.path, list.threads);
  }

  /**
   * Emitted on every change: with the websocket's event, or null after a local update.
   */
  get changed(): ISignal<this, ICommentEvent | null> {
    return this._changed;
  }

  get threads(): IThread[] {
    return [...this._threads.values()];
  }

  get(threadId: string): IThread | undefined {
    return this._threads.get(threadId);
  }

  get isDisposed(): boolean {
    return this._events.isDisposed;
  }

  /**
   * Re-read every thread (after a reconnection, or a rename).
   */
  async refresh(): Promise<void> {
    const list = await api.listThreads({ file_id: this.fileId });
    this.path = list.path;
    this._threads.clear();
    for (const t of list.threads) {
      this._threads.set(t.id, t);
    }
    this._changed.emit(null);
  }

  /**
   * Take in a thread as the server returned it (after one of our own requests).
   */
  put(thread: IThread): void {
    this._threads.set(thread.id, thread);
    this._changed.emit(null);
  }

  remove(threadId: string): void {
    if (this._threads.delete(threadId)) {
      this._changed.emit(null);
    }
  }

  apply(event: ICommentEvent): void {
    if (event.type === 'deleted') {
      this._threads.delete(event.thread.id);
    } else {
      this._threads.set(event.thread.id, event.thread);
    }
    this._changed.emit(event);
  }

  dispose(): void {
    this._events.dispose();
    Signal.clearData(this);
  }

  private _threads = new Map<string, IThread>();
  private _events: api.CommentEvents;
  private _changed = new Signal<this, ICommentEvent | null>(this);
}

/**
 * The user's unread mentions, across notebooks.
 */
export class Mentions {
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get unread(): number {
    return this._unread.size;
  }

  isUnread(commentId: string): boolean {
    return this._unread.has(commentId);
  }

  async refresh(): Promise<void> {
    const m = await api.mentions();
    this._unread = new Set(m.mentions.map(x => x.comment_id));
    this._changed.emit();
  }

  async markRead(commentIds: string[]): Promise<void> {
    const unread = commentIds.filter(id => this._unread.has(id));
    if (unread.length === 0) {
      return;
    }
    for (const id of unread) {
      this._unread.delete(id);
    }
    this._changed.emit();
    await api.markMentionsRead(unread);
  }

  private _unread = new Set<string>();
  private _changed = new Signal<this, void>(this);
}
