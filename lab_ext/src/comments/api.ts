/**
 * The comments REST API and its websocket, typed (see docs/reference/rest-api.md and
 * mutirao_lab/openapi.yaml).
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { requestAPI } from '../handler';
import type { IIdentityLike } from '../identity';

/**
 * Who wrote a comment, as the server's identity provider described them.
 */
export interface IAuthor {
  username: string;
  display_name: string;
  initials: string | null;
  color: string | null;
  avatar_url: string | null;
}

export interface IComment {
  id: string;
  thread_id: string;
  author: IAuthor;
  body: string;
  created_at: string;
  edited_at: string | null;
  mentions: string[];
}

export interface IThread {
  id: string;
  file_id: string;
  cell_id: string;
  output_index: number | null;
  text_range: { start: number; end: number } | null;
  created_at: string;
  author: IAuthor;
  resolved: boolean;
  resolved_by: IAuthor | null;
  resolved_at: string | null;
  outdated: boolean;
  last_source: string | null;
  comments: IComment[];
}

export interface IThreadList {
  file_id: string;
  path: string;
  threads: IThread[];
}

export interface IMembers {
  me: { username: string; role: string };
  members: string[];
  /** How each member looks, as far as the server knows (in the order of `members`). */
  people?: IIdentityLike[];
}

/** The members who can be @mentioned, with their identities where the server has them. */
export function mentionable(members: IMembers): IIdentityLike[] {
  const known = new Map((members.people ?? []).map(p => [p.username, p]));
  return members.members.map(u => known.get(u) ?? { username: u });
}

export interface IMention {
  comment_id: string;
  thread_id: string;
  file_id: string;
  cell_id: string;
  path: string | null;
  author: IAuthor;
  body: string;
  created_at: string;
  read: boolean;
}

export interface IMentions {
  unread: number;
  mentions: IMention[];
}

/**
 * A message of the `events` websocket.
 */
export interface ICommentEvent {
  type: 'created' | 'updated' | 'resolved' | 'deleted';
  file_id: string;
  thread: IThread;
  comment_id?: string;
}

/**
 * Where a new thread goes.
 */
export interface INewThread {
  file_id: string;
  cell_id: string;
  body: string;
  output_index?: number | null;
  /** Code points `[start, end)` of the cell's source (see `selection.ts`). */
  text_range?: { start: number; end: number } | null;
}

const ROOT = 'comments';

function json(method: string, body: unknown): RequestInit {
  return { method, body: JSON.stringify(body) };
}

function threadUrl(threadId: string, ...rest: string[]): string {
  return [ROOT, 'threads', encodeURIComponent(threadId), ...rest].join('/');
}

/**
 * The notebook's threads, by path or file id; the answer carries both.
 */
export function listThreads(
  by: { path: string } | { file_id: string }
): Promise<IThreadList> {
  return requestAPI<IThreadList>(
    `${ROOT}/threads${URLExt.objectToQueryString(by)}`
  );
}

export function getThread(threadId: string): Promise<IThread> {
  return requestAPI<IThread>(threadUrl(threadId));
}

export function createThread(thread: INewThread): Promise<IThread> {
  return requestAPI<IThread>(`${ROOT}/threads`, json('POST', thread));
}

export function reply(threadId: string, body: string): Promise<IThread> {
  return requestAPI<IThread>(
    threadUrl(threadId, 'comments'),
    json('POST', { body })
  );
}

export function editComment(
  threadId: string,
  commentId: string,
  body: string
): Promise<IThread> {
  return requestAPI<IThread>(
    threadUrl(threadId, 'comments', encodeURIComponent(commentId)),
    json('PATCH', { body })
  );
}

export async function deleteComment(
  threadId: string,
  commentId: string
): Promise<void> {
  await requestAPI<unknown>(
    threadUrl(threadId, 'comments', encodeURIComponent(commentId)),
    { method: 'DELETE' }
  );
}

export function setResolved(
  threadId: string,
  resolved: boolean
): Promise<IThread> {
  return requestAPI<IThread>(
    threadUrl(threadId, resolved ? 'resolve' : 'reopen'),
    { method: 'POST' }
  );
}

export function members(): Promise<IMembers> {
  return requestAPI<IMembers>(`${ROOT}/members`);
}

export function mentions(all = false): Promise<IMentions> {
  return requestAPI<IMentions>(`${ROOT}/mentions${all ? '?all=1' : ''}`);
}

export function markMentionsRead(
  commentIds?: string[]
): Promise<{ unread: number }> {
  return requestAPI<{ unread: number }>(
    `${ROOT}/mentions/read`,
    json('POST', commentIds ? { comment_ids: commentIds } : {})
  );
}

/**
 * What `GET export` answers for `format=json`: every thread of the notebook.
 */
export interface IExport {
  format: 'mutirao-comments';
  version: number;
  file_id: string;
  path: string;
  exported_at: string;
  threads: IThread[];
}

/**
 * A notebook's threads (`json`), or the notebook with them in its metadata (`notebook`);
 * nothing is written on the server.
 */
export function exportThreads(fileId: string, format: 'json'): Promise<IExport>;
export function exportThreads(
  fileId: string,
  format: 'notebook'
): Promise<Record<string, unknown>>;
export function exportThreads(
  fileId: string,
  format: 'json' | 'notebook'
): Promise<unknown> {
  return requestAPI<unknown>(
    `${ROOT}/export${URLExt.objectToQueryString({ file_id: fileId, format })}`
  );
}

/**
 * Write a copy of the notebook with its threads in its metadata, beside it (editors and
 * owners); answers the copy's path.
 */
export function saveCommentedCopy(
  fileId: string
): Promise<{ path: string; threads: number }> {
  return requestAPI<{ path: string; threads: number }>(
    `${ROOT}/export`,
    json('POST', { file_id: fileId })
  );
}

/**
 * The live feed of one notebook's threads. Reconnects (with back-off) until disposed, and
 * calls `onReconnect` after a reconnection so the caller can re-read what it missed.
 */
export class CommentEvents {
  constructor(
    readonly fileId: string,
    private _onEvent: (event: ICommentEvent) => void,
    private _onReconnect: () => void
  ) {
    this._connect();
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    this._disposed = true;
    if (this._timer !== undefined) {
      window.clearTimeout(this._timer);
    }
    this._socket?.close();
    this._socket = null;
  }

  private _connect(): void {
    const settings = ServerConnection.makeSettings();
    let url =
      URLExt.join(settings.wsUrl, 'mutirao', 'api', ROOT, 'events') +
      URLExt.objectToQueryString({ file_id: this.fileId });
    if (settings.token && settings.appendToken) {
      url += `&token=${encodeURIComponent(settings.token)}`;
    }
    const socket = new settings.WebSocket(url);
    this._socket = socket;
    socket.onopen = () => {
      if (this._attempts > 0) {
        this._onReconnect();
      }
      this._attempts = 0;
    };
    socket.onmessage = (msg: MessageEvent) => {
      try {
        this._onEvent(JSON.parse(String(msg.data)) as ICommentEvent);
      } catch (error) {
        console.error('Mutirão: bad comment event', error);
      }
    };
    socket.onclose = () => {
      if (this._disposed || this._socket !== socket) {
        return;
      }
      this._attempts += 1;
      const delay = Math.min(30_000, 500 * 2 ** Math.min(this._attempts, 6));
      this._timer = window.setTimeout(() => this._connect(), delay);
    };
  }

  private _socket: WebSocket | null = null;
  private _attempts = 0;
  private _timer: number | undefined;
  private _disposed = false;
}
