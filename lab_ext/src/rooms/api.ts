/**
 * The rooms service's REST API (hub_ext/mutirao_hub/rooms/openapi.yaml), from the browser.
 *
 * The service is a JupyterHub service under `<hub base URL>services/mutirao-rooms/`, on the
 * same origin as the lab. It authenticates browsers with its own OAuth cookie (HubOAuth), set
 * when one of its pages is visited, and, for cookie-authenticated API calls, checks
 * JupyterHub's XSRF token (the `_xsrf` cookie it sets on its own path). The lab gets both by
 * loading the service's rooms page once in a hidden frame: a top-level-like navigation, so the
 * hub's OAuth redirects run without a consent page (the service is `oauth_no_confirm`), and
 * the frame, being same-origin, can read the `_xsrf` cookie the service set on its path.
 */
import { PageConfig, URLExt } from '@jupyterlab/coreutils';

import { MutiraoAPIError } from '../handler';

/** Room roles, lowest first (ARCHITECTURE.md: room role). */
export const ROLES = ['viewer', 'commenter', 'editor', 'owner'] as const;
export type Role = (typeof ROLES)[number];

/** The service's name in `c.JupyterHub.services` (rooms_service_config's default). */
export const SERVICE_NAME = 'mutirao-rooms';

export interface IRoom {
  name: string;
  display_name: string;
  user: string;
  url: string;
  teams: Record<string, Role>;
  profile: string;
  share_role: Role;
  archived: boolean;
  created_by: string;
  created_at: string;
  my_role: Role | null;
  admin: boolean;
}

export interface IMember {
  /** `email` only for an invitation by e-mail address (`pending`). */
  kind: 'user' | 'group' | 'email';
  name: string;
  role: Role;
  /** People only, in the share list: how the hub shows them (its `user_info`). */
  display_name?: string;
  initials?: string;
  color?: string;
  avatar_url?: string;
  /** A share waiting for the person's first sign-in (an invitation). */
  pending?: boolean;
  invited_by?: string;
  invited_at?: string;
}

/** A person or team the share dialog offers (`GET rooms/<room>/suggestions`). */
export interface ISuggestion {
  kind: 'user' | 'group';
  name: string;
  display_name?: string;
  initials?: string;
  color?: string;
  avatar_url?: string;
  /** Someone a share already waits for, who has not signed in yet. */
  pending?: boolean;
}

export interface IServerState {
  running: boolean;
  ready: boolean;
  pending: string | null;
}

export interface IRoomDetail extends IRoom {
  members: IMember[];
  server: IServerState;
}

/** A room as `GET rooms` lists it: with its server's state. */
export interface IListedRoom extends IRoom {
  server?: IServerState;
}

/** `GET me`: what the "New room" form offers, and what deleting a room does. */
export interface IMe {
  name: string;
  may_create: boolean;
  teams: string[];
  profiles: string[];
  /** Room templates; none yet (the form offers a choice once there are). */
  templates: string[];
  roles: Role[];
  default_share_role: Role;
  /** The lowest roles that may start and stop a room's server. */
  start_role: Role;
  stop_role: Role;
  deletion: {
    files: 'moved' | 'removed' | 'kept';
    keep_days: number;
    /** The sentence the "Delete" confirmation shows about the files. */
    message: string;
  };
}

/** The body of `POST rooms`. */
export interface INewRoom {
  name: string;
  display_name?: string;
  teams: Record<string, Role>;
  profile?: string;
}

export interface ILink {
  id: string;
  role: Role;
  created_at: string;
  expires_at: string;
  exchange_count: number;
  code?: string;
  accept_url?: string;
  full_accept_url?: string | null;
}

/** 0 for no role, 1 for viewer ... 4 for owner. */
export function roleRank(role: string | null | undefined): number {
  return ROLES.indexOf(role as Role) + 1;
}

/** May someone with this role change documents and run code? */
export function canWrite(role: string | null | undefined): boolean {
  return roleRank(role) >= roleRank('editor');
}

/** The hub's base URL (`/` or, say, `/jupyter/`), from the lab's page config. */
export function hubBaseUrl(): string {
  const prefix = PageConfig.getOption('hubPrefix'); // e.g. "/jupyter/hub/"
  if (!prefix) {
    return '';
  }
  return prefix.replace(/hub\/?$/, '');
}

/** The hub user whose server this lab runs on (a room's hub user in a room). */
export function serverUser(): string {
  // hubUser is the person using the lab; hubServerUser the server's owner (JupyterHub 5+)
  return (
    PageConfig.getOption('hubServerUser') || PageConfig.getOption('hubUser')
  );
}

/**
 * A small client of the rooms service for the person using the lab.
 */
export class RoomsClient {
  constructor(readonly prefix: string = defaultPrefix()) {}

  get available(): boolean {
    return this.prefix !== '';
  }

  listRooms(): Promise<IListedRoom[]> {
    return this.request<IListedRoom[]>('rooms');
  }

  me(): Promise<IMe> {
    return this.request<IMe>('me');
  }

  createRoom(body: INewRoom): Promise<IRoom> {
    return this.request<IRoom>('rooms', {
      method: 'POST',
      body: JSON.stringify(body)
    });
  }

  /** Change a room's display name (owners). */
  renameRoom(name: string, displayName: string): Promise<IRoom> {
    return this.request<IRoom>(`rooms/${encodeURIComponent(name)}`, {
      method: 'PATCH',
      body: JSON.stringify({ display_name: displayName })
    });
  }

  /** Archive (stop the server, take away every share) or give the shares back. */
  setArchived(name: string, archived: boolean): Promise<IRoom> {
    const action = archived ? 'archive' : 'unarchive';
    return this.request<IRoom>(`rooms/${encodeURIComponent(name)}/${action}`, {
      method: 'POST'
    });
  }

  /** Delete an archived room, for good. */
  async deleteRoom(name: string): Promise<void> {
    await this.request<unknown>(`rooms/${encodeURIComponent(name)}`, {
      method: 'DELETE'
    });
  }

  /** Ask for the room's server to stop (for everyone in it). */
  async stopServer(room: string): Promise<void> {
    await this.request<unknown>(`rooms/${encodeURIComponent(room)}/server`, {
      method: 'DELETE'
    });
  }

  getRoom(name: string): Promise<IRoomDetail> {
    return this.request<IRoomDetail>(`rooms/${encodeURIComponent(name)}`);
  }

  share(
    room: string,
    who: { user: string } | { team: string },
    role: Role
  ): Promise<IMember> {
    return this.request<IMember>(`rooms/${encodeURIComponent(room)}/shares`, {
      method: 'POST',
      body: JSON.stringify({ ...who, role })
    });
  }

  /** People and teams whose name contains `query`, for the share dialog's completion. */
  suggest(room: string, query: string): Promise<ISuggestion[]> {
    return this.request<ISuggestion[]>(
      `rooms/${encodeURIComponent(room)}/suggestions?q=${encodeURIComponent(query)}`
    );
  }

  /** The room's teams and people with a share of their own, people with their names. */
  listShares(room: string): Promise<IMember[]> {
    return this.request<IMember[]>(`rooms/${encodeURIComponent(room)}/shares`);
  }

  /** Take back a person's or a team's share (a person keeps what their teams give). */
  async revokeShare(
    room: string,
    kind: IMember['kind'],
    name: string
  ): Promise<void> {
    const path =
      kind === 'group' ? 'teams' : kind === 'email' ? 'emails' : 'users';
    await this.request<unknown>(
      `rooms/${encodeURIComponent(room)}/shares/${path}/${encodeURIComponent(name)}`,
      { method: 'DELETE' }
    );
  }

  /** The room's share links that are still valid. */
  listLinks(room: string): Promise<ILink[]> {
    return this.request<ILink[]>(`rooms/${encodeURIComponent(room)}/links`);
  }

  /** Revoke a share link; those who accepted it keep their share until it is revoked. */
  async revokeLink(room: string, id: string): Promise<void> {
    await this.request<unknown>(
      `rooms/${encodeURIComponent(room)}/links/${encodeURIComponent(id)}`,
      { method: 'DELETE' }
    );
  }

  createLink(room: string, role: Role, expiresIn: number): Promise<ILink> {
    return this.request<ILink>(`rooms/${encodeURIComponent(room)}/links`, {
      method: 'POST',
      body: JSON.stringify({ role, expires_in: expiresIn })
    });
  }

  /** Ask for the room's server to start (it may already run). */
  async startServer(room: string): Promise<void> {
    await this.request<unknown>(`rooms/${encodeURIComponent(room)}/server`, {
      method: 'POST'
    });
  }

  /**
   * Call the API; on a first 403 (no service cookie, or a stale XSRF token) sign in to the
   * service once and try again.
   */
  async request<T>(path: string, init: RequestInit = {}): Promise<T> {
    if (!this.available) {
      throw new MutiraoAPIError(404, 'Not running under JupyterHub.');
    }
    if (this._xsrf === null) {
      await this.signIn();
    }
    try {
      return await this._fetch<T>(path, init);
    } catch (error) {
      if (error instanceof MutiraoAPIError && error.status === 403) {
        if (!this._retried) {
          this._retried = true;
          await this.signIn(true);
          return this._fetch<T>(path, init);
        }
      }
      throw error;
    }
  }

  /**
   * Visit the service's rooms page in a hidden frame (OAuth with the hub) and keep its
   * XSRF token.
   */
  signIn(force = false): Promise<void> {
    if (this._signingIn && !force) {
      return this._signingIn;
    }
    this._signingIn = new Promise<void>(resolve => {
      const frame = document.createElement('iframe');
      frame.hidden = true;
      frame.setAttribute('aria-hidden', 'true');
      frame.tabIndex = -1;
      frame.className = 'mutirao-RoomsSignIn';
      const done = () => {
        window.clearTimeout(timer);
        try {
          this._xsrf = readCookie(frame.contentDocument?.cookie ?? '', '_xsrf');
        } catch {
          this._xsrf = '';
        }
        frame.remove();
        resolve();
      };
      const timer = window.setTimeout(done, 30_000);
      frame.addEventListener('load', done, { once: true });
      frame.src = this.prefix;
      document.body.appendChild(frame);
    });
    return this._signingIn;
  }

  private async _fetch<T>(path: string, init: RequestInit): Promise<T> {
    const headers = new Headers(init.headers);
    if (this._xsrf) {
      headers.set('X-XSRFToken', this._xsrf);
    }
    if (init.body && !headers.has('Content-Type')) {
      headers.set('Content-Type', 'application/json');
    }
    const response = await fetch(URLExt.join(this.prefix, 'api', path), {
      ...init,
      headers,
      credentials: 'same-origin',
      redirect: 'error'
    });
    const text = await response.text();
    let data: unknown = text;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text
    }
    if (!response.ok) {
      const message =
        data !== null &&
        typeof data === 'object' &&
        typeof (data as { message?: unknown }).message === 'string'
          ? (data as { message: string }).message
          : response.statusText || 'Request failed';
      throw new MutiraoAPIError(response.status, message, response);
    }
    this._retried = false;
    return data as T;
  }

  private _xsrf: string | null = null;
  private _retried = false;
  private _signingIn: Promise<void> | null = null;
}

let shared: RoomsClient | null = null;

/** The lab's one client of the rooms service (one sign-in for the panel and the bell). */
export function sharedRoomsClient(): RoomsClient {
  if (shared === null) {
    shared = new RoomsClient();
  }
  return shared;
}

function defaultPrefix(): string {
  const base = hubBaseUrl();
  return base ? URLExt.join(base, 'services', SERVICE_NAME, '/') : '';
}

function readCookie(cookies: string, name: string): string {
  for (const part of cookies.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) {
      return decodeURIComponent(rest.join('='));
    }
  }
  return '';
}
