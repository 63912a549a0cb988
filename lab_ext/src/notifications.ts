/**
 * The person's notifications in JupyterLab's notification centre (the bell), whichever of
 * their servers this lab runs on: mentions, replies in their threads, shares to them, and
 * restores or checkouts that replaced a notebook they had open.
 *
 * They live in one feed per person in the rooms service (hub_ext's
 * `mutirao_hub/rooms/notifications.py`), which every lab of the person reads with the
 * person's own hub login. A notice shows until it is opened or dismissed here, or marked
 * read in another of the person's labs.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';

import { RoomsClient, serverUser, sharedRoomsClient } from './rooms/api';

/** One notice, as `GET api/notifications` gives it. */
export interface INotice {
  id: number;
  kind: 'mention' | 'reply' | 'share' | 'restore' | 'checkout';
  actor: string;
  actor_name: string;
  place: string;
  path: string;
  excerpt: string;
  url: string;
  message: string;
  created_at: string;
  read: boolean;
}

interface IFeed {
  unread: number;
  notifications: INotice[];
}

/** Seconds between two readings of the feed while the page is visible. */
const POLL_S = 8;

/** The text a notice shows in the bell: its sentence, and a quote of the comment. */
export function noticeText(notice: INotice): string {
  const quote = notice.excerpt ? ` — “${notice.excerpt}”` : '';
  return `${notice.message}${quote}`;
}

/** Keeps the notification centre in step with the person's feed. */
export class NotificationFeed {
  constructor(
    readonly client: RoomsClient,
    readonly open: (notice: INotice) => void
  ) {
    Notification.manager.changed.connect((_, change) => {
      if (change.type !== 'removed') {
        return;
      }
      const id = this._ids.get(change.notification.id);
      if (id !== undefined) {
        // dismissed in the bell: read, here and in the person's other labs
        this._forget(id);
        void this.markRead([id]);
      }
    });
  }

  /** Read the feed now and every few seconds while the page is visible. */
  start(): void {
    const tick = () => {
      if (!document.hidden) {
        void this.poll();
      }
    };
    this._timer = window.setInterval(tick, POLL_S * 1000);
    document.addEventListener('visibilitychange', tick);
    window.addEventListener('focus', tick);
    void this.poll();
  }

  dispose(): void {
    window.clearInterval(this._timer);
  }

  /** Show the unread notices not shown yet; take away those read elsewhere. */
  async poll(): Promise<void> {
    if (this._polling) {
      return;
    }
    this._polling = true;
    try {
      const feed = await this.client.request<IFeed>('notifications');
      const unread = new Set(feed.notifications.map(n => n.id));
      for (const notice of [...feed.notifications].reverse()) {
        if (!this._shown.has(notice.id)) {
          this._show(notice);
        }
      }
      for (const [id, shown] of [...this._shown]) {
        if (!unread.has(id)) {
          this._forget(id);
          Notification.dismiss(shown);
        }
      }
    } catch (error) {
      // the service is down or the person signed out: the next tick tries again
      console.debug('Mutirão: notifications unavailable', error);
    } finally {
      this._polling = false;
    }
  }

  async markRead(ids: number[]): Promise<void> {
    try {
      await this.client.request('notifications/read', {
        method: 'POST',
        body: JSON.stringify({ ids })
      });
    } catch (error) {
      console.debug('Mutirão: could not mark notifications read', error);
    }
  }

  private _show(notice: INotice): void {
    const shown = Notification.emit(noticeText(notice), 'info', {
      autoClose: false,
      actions: [
        {
          label: notice.kind === 'share' ? 'Open room' : 'Open',
          caption: notice.path || notice.place,
          callback: () => {
            this.open(notice);
            Notification.dismiss(shown);
          }
        },
        {
          label: 'Mark read',
          displayType: 'link',
          callback: () => Notification.dismiss(shown)
        }
      ]
    });
    this._shown.set(notice.id, shown);
    this._ids.set(shown, notice.id);
  }

  private _forget(id: number): void {
    const shown = this._shown.get(id);
    this._shown.delete(id);
    if (shown !== undefined) {
      this._ids.delete(shown);
    }
  }

  /** notice id -> notification centre id, and back */
  private _shown = new Map<number, string>();
  private _ids = new Map<string, number>();
  private _timer = 0;
  private _polling = false;
}

/** Is `url` (a notice's link) a place in this very lab? Answers the file path if so. */
export function localPath(url: string): string | null {
  const prefix = `/user/${encodeURIComponent(serverUser())}/lab`;
  const path = new URL(url, window.location.origin).pathname;
  const base = PageConfig.getOption('baseUrl') || '/';
  const at = path.indexOf(prefix);
  if (at < 0 || !path.startsWith(base)) {
    return null;
  }
  const rest = path.slice(at + prefix.length);
  if (rest === '' || rest === '/') {
    return '';
  }
  return rest.startsWith('/tree/')
    ? decodeURIComponent(rest.slice('/tree/'.length))
    : null;
}

export const notificationsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'mutirao-lab:notifications',
  description:
    "The person's mentions, replies, shares and restores in the notification centre.",
  autoStart: true,
  activate: (app: JupyterFrontEnd) => {
    const client = sharedRoomsClient();
    if (!client.available) {
      return; // not under JupyterHub: nowhere to read a feed from
    }
    const feed = new NotificationFeed(client, notice => {
      const path = localPath(notice.url);
      if (path === null) {
        window.open(notice.url, '_blank', 'noopener');
      } else if (path) {
        void app.commands.execute('docmanager:open', { path });
      }
    });
    void app.restored.then(() => feed.start());
  }
};
