/**
 * The share dialog's list of a room's current shares — people, teams and share links, each
 * with its role — and their "Revoke" buttons. Shown to those who may share (the dialog is
 * only offered to them); the rooms service decides every revocation and its refusals (403,
 * 404) are shown as they come. Names are other people's input: text only, never HTML.
 */
import { linkIcon, usersIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { describeFailure, el } from '../dom';
import { avatar, nameOf } from '../identity';
import { ILink, IMember, RoomsClient } from './api';

/** "until 28/11/2026, 04:00", or "expired"; the exact time is the caller's title. */
export function expiryText(iso: string, now = Date.now()): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) {
    return `until ${iso}`;
  }
  return at.getTime() <= now ? 'expired' : `until ${at.toLocaleString()}`;
}

/** How a share is named in messages: "Ana Souza (ana)", "team ml-research", "the viewer link". */
export function shareLabel(share: IMember | ILink): string {
  if ('kind' in share) {
    if (share.kind === 'group') {
      return `team ${share.name}`;
    }
    const shown = nameOf({
      username: share.name,
      display_name: share.display_name
    });
    return shown === share.name ? share.name : `${shown} (${share.name})`;
  }
  return `the ${share.role} link`;
}

/** What the confirmation of a revocation asks. */
export function revokeQuestion(share: IMember | ILink): string {
  const label = shareLabel(share);
  if (!('kind' in share)) {
    return `Revoke ${label}? Nobody can join with it any more; those who accepted it stay.`;
  }
  if (share.pending) {
    return share.kind === 'group'
      ? `Take back the invitation of ${label}? It stops waiting for its first member's sign-in.`
      : `Take back the invitation of ${label}? It stops waiting for their first sign-in.`;
  }
  if (share.kind === 'group') {
    return `Revoke the share of ${label}? Its members lose what the team gives them.`;
  }
  return `Revoke the share of ${label}? They lose the room, unless a team keeps them in.`;
}

/**
 * The list; `refresh()` reads it from the rooms service.
 */
export class ShareList extends Widget {
  constructor(
    readonly room: string,
    private _client: RoomsClient,
    /** The person using the lab, marked "(you)". */
    private _me: string = ''
  ) {
    super();
    this.addClass('mutirao-ShareList');
    this.node.dataset.testid = 'mutirao-share-list';
    this._items = el('ul', 'mutirao-ShareItems');
    this._items.setAttribute('aria-label', 'Current shares');
    this.status = el('div', 'mutirao-ShareListStatus');
    this.status.setAttribute('aria-live', 'polite');
    this.node.append(
      el('h3', 'mutirao-subheading', 'Shared with'),
      this._items,
      this.status
    );
  }

  /** Feedback of the last revocation or reading. */
  readonly status: HTMLDivElement;

  /** The shares, as last read. */
  get members(): readonly IMember[] {
    return this._members;
  }

  get links(): readonly ILink[] {
    return this._links;
  }

  /**
   * Read the people, teams and links again and redraw. A failure is written into the status
   * line (unless `quiet`, so a revocation's own message stays); what could be read is shown.
   */
  async refresh(quiet = false): Promise<void> {
    this.node.dataset.state = 'loading';
    const failures: string[] = [];
    const read = <T>(what: string, promise: Promise<T>): Promise<T | null> =>
      promise.catch(error => {
        failures.push(`${what}: ${describeFailure(error)}`);
        return null;
      });
    const [members, links] = await Promise.all([
      read('people and teams', this._client.listShares(this.room)),
      read('links', this._client.listLinks(this.room))
    ]);
    this._members = members ?? this._members;
    this._links = links ?? this._links;
    if (failures.length && !quiet) {
      this._say(`Could not read the ${failures.join('; ')}`, true);
    }
    this._render();
    this.node.dataset.state = 'ready';
  }

  /** Revoke one share or link, then say so and read the list again. */
  async revoke(share: IMember | ILink): Promise<boolean> {
    const label = shareLabel(share);
    this._say(`Revoking ${label}…`);
    this.status.dataset.state = 'sending';
    let done = false;
    try {
      if ('kind' in share) {
        await this._client.revokeShare(this.room, share.kind, share.name);
        this._say(
          share.pending
            ? `Took back the invitation of ${label}.`
            : share.kind === 'group'
              ? `Revoked the share of ${label}: its members keep only what else gives them access.`
              : `Revoked the share of ${label}.`
        );
      } else {
        await this._client.revokeLink(this.room, share.id);
        this._say(
          `Revoked ${label}: it no longer lets anyone in (those who accepted it are listed above).`
        );
      }
      done = true;
    } catch (error) {
      this._say(`Could not revoke ${label}: ${describeFailure(error)}`, true);
    }
    await this.refresh(true);
    return done;
  }

  private _say(text: string, error = false): void {
    this.status.textContent = text;
    this.status.classList.toggle('mutirao-error', error);
    this.status.dataset.state = error ? 'error' : 'done';
  }

  private _render(): void {
    const items: HTMLElement[] = [];
    const people = this._members.filter(m => m.kind === 'user' && !m.pending);
    const teams = this._members.filter(m => m.kind === 'group' && !m.pending);
    const waiting = this._members.filter(m => m.pending);
    for (const m of [...people, ...teams, ...waiting]) {
      items.push(this._memberNode(m));
    }
    for (const link of this._links) {
      items.push(this._linkNode(link));
    }
    if (items.length === 0) {
      items.push(el('li', 'mutirao-Empty', 'Nobody has a share of their own.'));
    }
    this._items.replaceChildren(...items);
  }

  private _item(
    kind: string,
    icon: HTMLElement,
    name: string,
    detail: string,
    role: string,
    share: IMember | ILink
  ): HTMLLIElement {
    const item = el('li', 'mutirao-ShareItem');
    item.dataset.kind = kind;
    const text = el('span', 'mutirao-ShareItemText');
    text.append(
      el('span', 'mutirao-ShareItemName', name),
      el('span', 'mutirao-ShareItemDetail', detail)
    );
    const badge = el('span', 'mutirao-RoleBadge mutirao-ShareItemRole', role);
    badge.dataset.role = role;
    const revoke = el(
      'button',
      'jp-mod-styled jp-mod-warn mutirao-ShareRevoke',
      'Revoke'
    );
    revoke.type = 'button';
    revoke.title = `Revoke the share of ${shareLabel(share)}`;
    revoke.addEventListener('click', () => this._confirm(item, share));
    item.append(icon, text, badge, revoke);
    return item;
  }

  /**
   * Ask in the line itself (the share dialog is already a dialog): what revoking does, and
   * "Cancel" or "Revoke".
   */
  private _confirm(item: HTMLLIElement, share: IMember | ILink): void {
    if (item.querySelector('.mutirao-ShareConfirm')) {
      return;
    }
    const box = el('div', 'mutirao-ShareConfirm');
    box.setAttribute('role', 'alertdialog');
    const question = el(
      'span',
      'mutirao-ShareConfirmText',
      revokeQuestion(share)
    );
    const cancel = el(
      'button',
      'jp-mod-styled mutirao-ShareConfirmCancel',
      'Cancel'
    );
    cancel.type = 'button';
    const confirm = el(
      'button',
      'jp-mod-styled jp-mod-warn mutirao-ShareConfirmRevoke',
      'Revoke'
    );
    confirm.type = 'button';
    cancel.addEventListener('click', () => {
      box.remove();
      item.classList.remove('mutirao-mod-confirming');
    });
    confirm.addEventListener('click', () => {
      confirm.disabled = cancel.disabled = true;
      void this.revoke(share);
    });
    box.append(question, cancel, confirm);
    item.classList.add('mutirao-mod-confirming');
    item.append(box);
    confirm.focus();
  }

  private _memberNode(m: IMember): HTMLLIElement {
    if (m.kind === 'group') {
      const icon = el('span', 'mutirao-ShareIcon');
      usersIcon.element({ container: icon });
      let detail = 'team';
      if (m.pending) {
        // an invitation: granted when the team's first member signs in
        detail = "team · waiting for its first member's sign-in";
        if (m.invited_by) {
          detail += ` · invited by ${m.invited_by}`;
        }
      }
      const item = this._item('team', icon, m.name, detail, m.role, m);
      item.dataset.name = m.name;
      if (m.pending) {
        item.dataset.pending = 'true';
        item.classList.add('mutirao-mod-pending');
      }
      return item;
    }
    const who = {
      username: m.name,
      display_name: m.display_name,
      initials: m.initials,
      color: m.color,
      avatar_url: m.avatar_url
    };
    const shown = nameOf(who);
    let detail = m.name === this._me ? `${m.name} (you)` : m.name;
    if (m.pending) {
      // an invitation: the share is granted at the person's first sign-in
      detail = 'waiting for first sign-in';
      if (m.invited_by) {
        detail += ` · invited by ${m.invited_by}`;
      }
    }
    const item = this._item(m.kind, avatar(who), shown, detail, m.role, m);
    item.dataset.name = m.name;
    if (m.pending) {
      item.dataset.pending = 'true';
      item.classList.add('mutirao-mod-pending');
    }
    return item;
  }

  private _linkNode(link: ILink): HTMLLIElement {
    const icon = el('span', 'mutirao-ShareIcon');
    linkIcon.element({ container: icon });
    const used = link.exchange_count ?? 0;
    const detail = `${expiryText(link.expires_at)} · accepted ${used} time${used === 1 ? '' : 's'}`;
    const item = this._item(
      'link',
      icon,
      'Share link',
      detail,
      link.role,
      link
    );
    item.dataset.id = link.id;
    item.title = `Valid until ${link.expires_at}`;
    return item;
  }

  private _members: IMember[] = [];
  private _links: ILink[] = [];
  private _items: HTMLUListElement;
}
