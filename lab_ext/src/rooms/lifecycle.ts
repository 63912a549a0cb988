/**
 * A room's life from the lab: "New room", rename, start and stop its server, archive,
 * unarchive and delete (each asked of the rooms service, which decides; its refusals are shown
 * as they come), and the dialog that lists a room's members.
 *
 * Actions that take something from others ask first: stopping the server (everyone's kernels
 * stop), archiving (everyone loses access) and deleting (named: the files, their comments and
 * history, the shares; the file policy in the service's own words).
 */
import {
  Dialog,
  InputDialog,
  Notification,
  showDialog
} from '@jupyterlab/apputils';
import { usersIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { describeFailure, el } from '../dom';
import { avatar, nameOf } from '../identity';
import {
  IMe,
  IMember,
  INewRoom,
  IRoom,
  IRoomDetail,
  ROLES,
  Role,
  RoomsClient
} from './api';

/** Room names, as the rooms service checks them (mutirao_hub.rooms.policy). */
export const ROOM_NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

/** `ML research` → `ml-research`: a name to suggest from a display name. */
export function suggestName(displayName: string): string {
  return displayName
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .replace(/-+$/, '')
    .slice(0, 40)
    .replace(/-+$/, '');
}

/** How a room is named in sentences: "ML research (ml-research)". */
export function roomLabel(room: Pick<IRoom, 'name' | 'display_name'>): string {
  return room.display_name && room.display_name !== room.name
    ? `${room.display_name} (${room.name})`
    : room.name;
}

function field(
  label: string,
  control: HTMLElement,
  hint?: string
): HTMLElement {
  const node = el('label', 'mutirao-NewRoomField');
  node.append(el('span', 'mutirao-NewRoomLabel', label), control);
  if (hint) {
    node.append(el('span', 'mutirao-NewRoomHint', hint));
  }
  return node;
}

function input(className: string, value = ''): HTMLInputElement {
  const node = el('input', `jp-mod-styled ${className}`);
  node.value = value;
  node.autocomplete = 'off';
  return node;
}

function roleSelect(className: string, value: Role): HTMLSelectElement {
  const node = el('select', `jp-mod-styled ${className}`);
  for (const role of ROLES) {
    const o = el('option', '', role);
    o.value = role;
    node.append(o);
  }
  node.value = value;
  return node;
}

/**
 * The "New room" form: name, display name, owning teams and their roles, profile. (Room
 * templates are not offered yet; once the service lists some in `GET me`, a choice goes here.)
 */
export class NewRoomForm
  extends Widget
  implements Dialog.IBodyWidget<INewRoom>
{
  constructor(
    private _me: IMe,
    value: Partial<INewRoom> = {},
    error = ''
  ) {
    super();
    this.addClass('mutirao-NewRoomForm');
    this.node.dataset.testid = 'mutirao-new-room';
    this.displayName = input('mutirao-NewRoomDisplayName', value.display_name);
    this.displayName.placeholder = 'Like “ML research”';
    this.displayName.maxLength = 100;
    this.name = input('mutirao-NewRoomName', value.name);
    this.name.placeholder = 'ml-research';
    this.name.maxLength = 40;
    this.name.pattern = ROOM_NAME.source;
    this.name.required = true;
    // the name follows the display name until someone types one
    let typed = !!value.name;
    this.name.addEventListener('input', () => {
      typed = true;
      this._check();
    });
    this.displayName.addEventListener('input', () => {
      if (!typed) {
        this.name.value = suggestName(this.displayName.value);
        // JupyterLab's dialog checks its fields when an input event reaches the document,
        // before this handler runs: tell it again, now that the suggested name is in
        this.node.dispatchEvent(new Event('input', { bubbles: true }));
      }
      this._check();
    });
    const teams = el('fieldset', 'mutirao-NewRoomTeams');
    teams.append(
      el('legend', 'mutirao-NewRoomLabel', 'Owning teams and their role')
    );
    const chosen = value.teams ?? {};
    for (const team of _me.teams) {
      const row = el('div', 'mutirao-NewRoomTeam');
      row.dataset.team = team;
      const box = el('input', 'mutirao-NewRoomTeamCheck');
      box.type = 'checkbox';
      box.checked = team in chosen || (!value.teams && _me.teams.length === 1);
      box.addEventListener('change', () => this._check());
      const label = el('label', 'mutirao-NewRoomTeamName');
      label.append(box, team);
      const role = roleSelect(
        'mutirao-NewRoomTeamRole',
        chosen[team] ?? 'editor'
      );
      role.setAttribute('aria-label', `Role of ${team}`);
      row.append(label, role);
      teams.append(row);
      this._teams.push([team, box, role]);
    }
    this.profile = el('select', 'jp-mod-styled mutirao-NewRoomProfile');
    for (const name of _me.profiles) {
      const o = el('option', '', name);
      o.value = name;
      this.profile.append(o);
    }
    if (value.profile) {
      this.profile.value = value.profile;
    }
    this.error = el('div', 'mutirao-NewRoomError mutirao-error');
    this.error.setAttribute('aria-live', 'polite');
    this.error.textContent = error;
    this.node.append(
      field('Display name', this.displayName),
      field(
        'Name',
        this.name,
        'Lowercase letters, digits and hyphens; part of the address, cannot change.'
      ),
      teams
    );
    if (_me.profiles.length) {
      this.node.append(field('Profile', this.profile));
    }
    this.node.append(this.error);
  }

  readonly name: HTMLInputElement;
  readonly displayName: HTMLInputElement;
  readonly profile: HTMLSelectElement;
  readonly error: HTMLDivElement;

  getValue(): INewRoom {
    const teams: Record<string, Role> = {};
    for (const [team, box, role] of this._teams) {
      if (box.checked) {
        teams[team] = role.value as Role;
      }
    }
    const value: INewRoom = { name: this.name.value.trim(), teams };
    const displayName = this.displayName.value.trim();
    if (displayName) {
      value.display_name = displayName;
    }
    if (this._me.profiles.length && this.profile.value) {
      value.profile = this.profile.value;
    }
    return value;
  }

  /** What is wrong with the form as typed ('' when it may be sent). */
  problem(): string {
    const value = this.getValue();
    if (!ROOM_NAME.test(value.name)) {
      return 'The name is lowercase letters, digits and single hyphens, starting with a letter.';
    }
    if (Object.keys(value.teams).length === 0) {
      return 'Choose at least one owning team.';
    }
    return '';
  }

  /**
   * Say what is wrong as soon as something is typed (JupyterLab's dialog also disables
   * "Create" while the name does not match its pattern).
   */
  private _check(): void {
    this.error.textContent = this.name.value ? this.problem() : '';
  }

  private _teams: [string, HTMLInputElement, HTMLSelectElement][] = [];
}

/**
 * Ask for a new room until it is made or the dialog is cancelled; the made room, or null.
 */
export async function newRoom(client: RoomsClient): Promise<IRoom | null> {
  const me = await client.me();
  if (!me.may_create) {
    await showDialog({
      title: 'New room',
      body: 'You may not create rooms. Ask your administrator.',
      buttons: [Dialog.okButton()]
    });
    return null;
  }
  if (me.teams.length === 0) {
    await showDialog({
      title: 'New room',
      body: 'A room belongs to one or more of your teams, and you are in none.',
      buttons: [Dialog.okButton()]
    });
    return null;
  }
  let value: Partial<INewRoom> = {};
  let error = '';
  for (;;) {
    const form = new NewRoomForm(me, value, error);
    const result = await showDialog({
      title: 'New room',
      body: form,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Create' })],
      focusNodeSelector: '.mutirao-NewRoomDisplayName'
    });
    if (!result.button.accept || !result.value) {
      return null;
    }
    value = result.value;
    error = form.problem();
    if (error) {
      continue;
    }
    try {
      const room = await client.createRoom(result.value);
      Notification.success(`Room ${roomLabel(room)} created.`, {
        autoClose: 5000
      });
      return room;
    } catch (e) {
      error = describeFailure(e);
    }
  }
}

/** Ask for a new display name and set it; the renamed room, or null. */
export async function renameRoom(
  client: RoomsClient,
  room: IRoom
): Promise<IRoom | null> {
  const result = await InputDialog.getText({
    title: `Rename ${roomLabel(room)}`,
    label: 'Display name (the name and the address stay)',
    text: room.display_name,
    okLabel: 'Rename'
  });
  if (!result.button.accept || result.value === null) {
    return null;
  }
  try {
    const renamed = await client.renameRoom(room.name, result.value.trim());
    Notification.success(`Renamed to ${renamed.display_name}.`, {
      autoClose: 5000
    });
    return renamed;
  } catch (e) {
    Notification.error(`Could not rename ${room.name}: ${describeFailure(e)}`);
    return null;
  }
}

/** Confirm, then do something that affects everyone in the room. */
async function confirm(
  title: string,
  lines: string[],
  label: string
): Promise<boolean> {
  const body = el('div', 'mutirao-RoomConfirm');
  for (const line of lines) {
    body.append(el('p', '', line));
  }
  const result = await showDialog({
    title,
    body: new Widget({ node: body }),
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label })]
  });
  return result.button.accept;
}

/** Start or stop a room's server (stopping asks first); true when asked of the service. */
export async function setServer(
  client: RoomsClient,
  room: IRoom,
  run: boolean
): Promise<boolean> {
  if (
    !run &&
    !(await confirm(
      `Stop ${roomLabel(room)}?`,
      [
        'The room’s server stops for everyone in it: running kernels and terminals end, and unsaved changes that are not in a shared document are lost.'
      ],
      'Stop'
    ))
  ) {
    return false;
  }
  try {
    await (run ? client.startServer(room.name) : client.stopServer(room.name));
    Notification.info(
      run
        ? `${roomLabel(room)} is starting.`
        : `${roomLabel(room)} is stopping.`,
      { autoClose: 5000 }
    );
    return true;
  } catch (e) {
    Notification.error(
      `Could not ${run ? 'start' : 'stop'} ${room.name}: ${describeFailure(e)}`
    );
    return false;
  }
}

/** Archive (asks first) or unarchive a room; true when done. */
export async function setArchived(
  client: RoomsClient,
  room: IRoom,
  archived: boolean
): Promise<boolean> {
  if (
    archived &&
    !(await confirm(
      `Archive ${roomLabel(room)}?`,
      [
        'Its server stops and everyone loses access; its share links stop working. The files stay.',
        'Unarchiving gives back the shares it has now.'
      ],
      'Archive'
    ))
  ) {
    return false;
  }
  try {
    await client.setArchived(room.name, archived);
    Notification.success(
      archived
        ? `${roomLabel(room)} is archived.`
        : `${roomLabel(room)} is back.`,
      { autoClose: 5000 }
    );
    return true;
  } catch (e) {
    Notification.error(
      `Could not ${archived ? 'archive' : 'unarchive'} ${room.name}: ${describeFailure(e)}`
    );
    return false;
  }
}

/** The shares a deleted room loses, in words: "ml-research (team, editor), Ana Souza (owner)". */
export function sharesText(members: readonly IMember[]): string {
  return members
    .map(m =>
      m.kind === 'group'
        ? `${m.name} (team, ${m.role})`
        : `${nameOf({ username: m.name, display_name: m.display_name })} (${m.role})`
    )
    .join(', ');
}

/**
 * Delete an archived room, after a confirmation that names what is lost; true when deleted.
 */
export async function deleteRoom(
  client: RoomsClient,
  room: IRoom
): Promise<boolean> {
  let detail: IRoomDetail;
  let me: IMe;
  let members: IMember[];
  try {
    [detail, me, members] = await Promise.all([
      client.getRoom(room.name),
      client.me(),
      client.listShares(room.name)
    ]);
  } catch (e) {
    Notification.error(`Could not delete ${room.name}: ${describeFailure(e)}`);
    return false;
  }
  const lost = el('ul', 'mutirao-DeleteLost');
  lost.append(
    el('li', '', `the room and its address, ${detail.url}`),
    el('li', '', me.deletion.message),
    el(
      'li',
      '',
      members.length
        ? `its shares, which unarchiving would give back: ${sharesText(members)}`
        : 'its shares'
    )
  );
  const body = el('div', 'mutirao-RoomConfirm mutirao-DeleteRoom');
  body.append(el('p', '', 'This cannot be undone. What is lost:'), lost);
  const result = await showDialog({
    title: `Delete ${roomLabel(room)}?`,
    body: new Widget({ node: body }),
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
  });
  if (!result.button.accept) {
    return false;
  }
  try {
    await client.deleteRoom(room.name);
    Notification.success(`${roomLabel(room)} is deleted.`, { autoClose: 5000 });
    return true;
  } catch (e) {
    Notification.error(`Could not delete ${room.name}: ${describeFailure(e)}`);
    return false;
  }
}

/**
 * The room's members (people, then teams) with their roles, read from the rooms service.
 */
export class MembersList extends Widget {
  constructor(
    readonly room: string,
    private _client: RoomsClient,
    private _me = ''
  ) {
    super();
    this.addClass('mutirao-MembersList');
    this.node.dataset.testid = 'mutirao-members';
    this._items = el('ul', 'mutirao-ShareItems');
    this._items.setAttribute('aria-label', 'Members');
    this._status = el('div', 'mutirao-ShareListStatus');
    this.node.append(this._items, this._status);
  }

  async refresh(): Promise<void> {
    this.node.dataset.state = 'loading';
    try {
      const members = await this._client.listShares(this.room);
      const people = members.filter(m => m.kind === 'user');
      const teams = members.filter(m => m.kind === 'group');
      this._items.replaceChildren(
        ...[...people, ...teams].map(m => this._item(m))
      );
      if (members.length === 0) {
        this._items.append(el('li', 'mutirao-Empty', 'Nobody.'));
      }
      this._status.textContent = '';
    } catch (e) {
      this._status.textContent = `Could not read the members: ${describeFailure(e)}`;
      this._status.classList.add('mutirao-error');
    }
    this.node.dataset.state = 'ready';
  }

  private _item(m: IMember): HTMLLIElement {
    const item = el('li', 'mutirao-ShareItem mutirao-Member');
    item.dataset.kind = m.kind === 'group' ? 'team' : 'user';
    item.dataset.name = m.name;
    let icon: HTMLElement;
    let name: string;
    let detail: string;
    if (m.kind === 'group') {
      icon = el('span', 'mutirao-ShareIcon');
      usersIcon.element({ container: icon });
      name = m.name;
      detail = m.pending
        ? 'team · invited, nobody of it signed in yet'
        : 'team';
    } else {
      const who = {
        username: m.name,
        display_name: m.display_name,
        initials: m.initials,
        color: m.color,
        avatar_url: m.avatar_url
      };
      icon = avatar(who);
      name = nameOf(who);
      detail = m.pending
        ? `${m.name} · invited, not signed in yet`
        : m.name === this._me
          ? `${m.name} (you)`
          : m.name;
    }
    const text = el('span', 'mutirao-ShareItemText');
    text.append(
      el('span', 'mutirao-ShareItemName', name),
      el('span', 'mutirao-ShareItemDetail', detail)
    );
    const badge = el('span', 'mutirao-RoleBadge mutirao-ShareItemRole', m.role);
    badge.dataset.role = m.role;
    item.append(icon, text, badge);
    return item;
  }

  private _items: HTMLUListElement;
  private _status: HTMLDivElement;
}

/**
 * Show the room's members; `share` (for those who may share) adds a "Share…" button that
 * closes this dialog and opens the share dialog.
 */
export async function showMembers(
  client: RoomsClient,
  room: IRoom,
  me: string,
  share: (() => void) | null
): Promise<void> {
  const list = new MembersList(room.name, client, me);
  void list.refresh();
  const buttons = [Dialog.cancelButton({ label: 'Close' })];
  if (share) {
    buttons.push(Dialog.okButton({ label: 'Share…' }));
  }
  const result = await showDialog({
    title: `Members of ${room.display_name || room.name}`,
    body: list,
    buttons
  });
  if (share && result.button.accept) {
    share();
  }
}
