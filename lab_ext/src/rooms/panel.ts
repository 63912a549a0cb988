/**
 * The Rooms side panel: this room and one's role in it, who is online and in which file, the
 * share dialog, and one's rooms (open, or start then open).
 */
import { LabIcon } from '@jupyterlab/ui-components';
import type { CommandRegistry } from '@lumino/commands';
import { ISignal, Signal } from '@lumino/signaling';
import { Menu, Widget } from '@lumino/widgets';

import { describeFailure, el } from '../dom';
import { avatar } from '../identity';
import {
  IListedRoom,
  IMe,
  IRoom,
  IRoomDetail,
  RoomsClient,
  canWrite,
  roleRank,
  serverUser
} from './api';
import { IPresence, Presence } from './presence';

/** The rooms commands (their `room` argument is a room's name). */
export namespace RoomCommandIDs {
  export const open = 'mutirao-lab:open-rooms';
  export const create = 'mutirao-lab:new-room';
  export const openRoom = 'mutirao-lab:room-open';
  export const rename = 'mutirao-lab:room-rename';
  export const start = 'mutirao-lab:room-start';
  export const stop = 'mutirao-lab:room-stop';
  export const archive = 'mutirao-lab:room-archive';
  export const unarchive = 'mutirao-lab:room-unarchive';
  export const remove = 'mutirao-lab:room-delete';
  export const members = 'mutirao-lab:room-members';
  export const share = 'mutirao-lab:room-share';
}

/** The commands of a room's "⋯" menu, in order (separators between groups). */
export const ROOM_MENU: (string | null)[] = [
  RoomCommandIDs.openRoom,
  RoomCommandIDs.members,
  null,
  RoomCommandIDs.rename,
  RoomCommandIDs.start,
  RoomCommandIDs.stop,
  null,
  RoomCommandIDs.archive,
  RoomCommandIDs.unarchive,
  RoomCommandIDs.remove
];

/** Id of the left side-panel widget (also the DOM id of its root node). */
export const ROOMS_PANEL_ID = 'mutirao-rooms';

export const roomsIcon = new LabIcon({
  name: 'mutirao-lab:rooms',
  svgstr: `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 16 16"><path class="jp-icon3" fill="#616161" d="M2 14V3.5L8 1l6 2.5V14h-4v-4H6v4H2zm4-7h1.5V5.5H6V7zm2.5 0H10V5.5H8.5V7z"/></svg>`
});

/** The role badge ("editor", "viewer — read only", ...). */
export function roleBadge(role: string | null): HTMLElement {
  const node = el('span', 'mutirao-RoleBadge');
  node.dataset.role = role ?? 'none';
  node.textContent = role
    ? canWrite(role)
      ? role
      : `${role} — read only`
    : 'not a member';
  return node;
}

export interface IRoomsPanelOptions {
  client: RoomsClient;
  /** Runs the rooms commands of the "New room" button and the rooms' menus. */
  commands: CommandRegistry;
  /** The role the server enforces for this user (null until known). */
  role: () => string | null;
  presence: Presence | null;
  /** Show a document of this server. */
  openPath: (path: string) => void;
}

/**
 * The Rooms panel.
 */
export class RoomsPanel extends Widget {
  constructor(private _options: IRoomsPanelOptions) {
    super();
    this.id = ROOMS_PANEL_ID;
    this.addClass('mutirao-RoomsPanel');
    this.node.dataset.testid = ROOMS_PANEL_ID;
    this.title.icon = roomsIcon;
    this.title.caption = 'Rooms';

    const header = el('div', 'mutirao-RoomsHeader');
    header.append(el('h2', 'mutirao-heading', 'Rooms'));
    const refresh = el('button', 'jp-mod-styled mutirao-RoomsRefresh', '↻');
    refresh.type = 'button';
    refresh.title = 'Refresh';
    refresh.addEventListener('click', () => void this.refresh());
    this._newButton = el(
      'button',
      'jp-mod-styled jp-mod-accept mutirao-NewRoom',
      'New room…'
    );
    this._newButton.type = 'button';
    this._newButton.hidden = true;
    this._newButton.addEventListener(
      'click',
      () => void _options.commands.execute(RoomCommandIDs.create)
    );
    header.append(this._newButton, refresh);

    this._roomNode = el('section', 'mutirao-ThisRoom');
    this._onlineNode = el('ul', 'mutirao-Online');
    this._onlineNode.setAttribute('aria-label', 'Online now');
    this._listNode = el('ul', 'mutirao-RoomList');
    this._statusNode = el('div', 'mutirao-RoomsStatus');
    this._statusNode.setAttribute('aria-live', 'polite');

    this.node.append(
      header,
      this._roomNode,
      el('h3', 'mutirao-subheading', 'Online now'),
      this._onlineNode,
      el('h3', 'mutirao-subheading', 'My rooms'),
      this._listNode,
      this._statusNode
    );
    _options.presence?.changed.connect(this._renderOnline, this);
    this._renderOnline();
    this._renderRoom();
  }

  /** The room this lab runs in (null on a personal server). */
  get room(): IRoomDetail | null {
    return this._room;
  }

  /** Does this lab run on a room's server (as far as the rooms service says)? */
  get isRoomServer(): boolean {
    return this._isRoomServer;
  }

  /** One's rooms, as last read. */
  get rooms(): readonly IListedRoom[] {
    return this._rooms;
  }

  /** What the rooms service lets this person do (null until read). */
  get me(): IMe | null {
    return this._me;
  }

  /** The room called `name` among one's rooms (this room's detail if it is this one). */
  findRoom(name: string): IListedRoom | undefined {
    if (this._room?.name === name) {
      return this._room;
    }
    return this._rooms.find(r => r.name === name);
  }

  /** May one share `room` (its `share_role`, or admin)? */
  mayShare(room: IRoom): boolean {
    return room.admin || roleRank(room.my_role) >= roleRank(room.share_role);
  }

  /** Re-read one's rooms and this room. */
  async refresh(): Promise<void> {
    const client = this._options.client;
    if (!client.available) {
      this._status('Rooms need JupyterHub.', true);
      return;
    }
    this._status('Loading…');
    try {
      const [rooms, me] = await Promise.all([client.listRooms(), client.me()]);
      this._rooms = rooms;
      this._me = me;
      const here = this._rooms.find(r => r.user === serverUser());
      this._room = here ? await client.getRoom(here.name) : null;
      this._isRoomServer = !!here;
      this._status('');
    } catch (error) {
      console.warn('Mutirão: rooms unavailable', error);
      this._status(`Rooms unavailable: ${describeFailure(error)}`, true);
    }
    this._newButton.hidden = !this._me?.may_create;
    this._renderRoom();
    this._renderList();
    this._changed.emit();
  }

  /** Emitted after each refresh (this room's display name may have changed). */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The server's role changed (or became known). */
  roleChanged(): void {
    this._renderRoom();
  }

  dispose(): void {
    this._options.presence?.changed.disconnect(this._renderOnline, this);
    super.dispose();
  }

  private _status(text: string, error = false): void {
    this._statusNode.textContent = text;
    this._statusNode.classList.toggle('mutirao-error', error);
  }

  private _renderRoom(): void {
    const node = this._roomNode;
    node.replaceChildren();
    const role = this._options.role();
    const room = this._room;
    const title = el(
      'div',
      'mutirao-ThisRoomName',
      room ? room.display_name || room.name : 'Personal server'
    );
    node.append(title);
    const line = el('div', 'mutirao-ThisRoomRole');
    line.append('Your role: ', roleBadge(role));
    node.append(line);
    if (room) {
      const teams = Object.entries(room.teams)
        .map(([t, r]) => `${t} (${r})`)
        .join(', ');
      node.append(el('div', 'mutirao-ThisRoomTeams', `Teams: ${teams}`));
      const buttons = el('div', 'mutirao-ThisRoomButtons');
      const members = el(
        'button',
        'jp-mod-styled mutirao-MembersButton',
        `Members (${room.members.length})`
      );
      members.type = 'button';
      members.addEventListener(
        'click',
        () =>
          void this._options.commands.execute(RoomCommandIDs.members, {
            room: room.name
          })
      );
      buttons.append(members);
      if (this.mayShare(room)) {
        const share = el(
          'button',
          'jp-mod-styled jp-mod-accept mutirao-ShareButton',
          'Share…'
        );
        share.type = 'button';
        share.addEventListener(
          'click',
          () =>
            void this._options.commands.execute(RoomCommandIDs.share, {
              room: room.name
            })
        );
        buttons.append(share);
      }
      node.append(buttons);
    }
  }

  private _renderOnline(): void {
    const list = this._onlineNode;
    list.replaceChildren();
    const presence = this._options.presence;
    if (!presence) {
      list.append(el('li', 'mutirao-Empty', 'Live collaboration is off.'));
      return;
    }
    const everyone = presence.people;
    for (const p of everyone) {
      list.append(this._personNode(p));
    }
    if (everyone.length === 0) {
      list.append(el('li', 'mutirao-Empty', 'Nobody.'));
    }
  }

  private _personNode(p: IPresence): HTMLElement {
    const item = el('li', 'mutirao-Person');
    item.dataset.username = p.user.username;
    const name = el(
      'span',
      'mutirao-PersonName',
      (p.user.display_name || p.user.username) + (p.isMe ? ' (you)' : '')
    );
    item.append(avatar(p.user), name);
    if (p.path) {
      const file = el('button', 'mutirao-PersonFile', p.path);
      file.type = 'button';
      file.title = `Open ${p.path}`;
      file.addEventListener('click', () => this._options.openPath(p.path!));
      item.append(file);
    } else {
      item.append(el('span', 'mutirao-PersonFile mutirao-mod-none', '—'));
    }
    return item;
  }

  private _renderList(): void {
    const list = this._listNode;
    list.replaceChildren();
    for (const room of this._rooms) {
      const item = el('li', 'mutirao-RoomItem');
      item.dataset.room = room.name;
      const name = el(
        'span',
        'mutirao-RoomItemName',
        room.display_name || room.name
      );
      name.title = room.name;
      const server = el('span', 'mutirao-RoomServer');
      const state = room.archived
        ? 'archived'
        : room.server?.ready
          ? 'running'
          : room.server?.running
            ? 'starting'
            : 'stopped';
      server.dataset.state = state;
      server.textContent = state;
      server.title = `Server: ${state}`;
      const text = el('div', 'mutirao-RoomItemText');
      const line = el('div', 'mutirao-RoomItemLine');
      line.append(roleBadge(room.my_role), server);
      text.append(name, line);
      item.append(text);
      if (!room.archived) {
        const open = el('button', 'jp-mod-styled mutirao-RoomOpen', 'Open');
        open.type = 'button';
        open.addEventListener('click', () => void this._open(room, open));
        item.append(open);
      }
      const more = el('button', 'jp-mod-styled mutirao-RoomMenuButton', '⋯');
      more.type = 'button';
      more.title = `Actions for ${room.display_name || room.name}`;
      more.setAttribute('aria-haspopup', 'menu');
      more.addEventListener('click', () => {
        const rect = more.getBoundingClientRect();
        this._menu(room).open(rect.left, rect.bottom);
      });
      item.append(more);
      list.append(item);
    }
    if (this._rooms.length === 0) {
      list.append(el('li', 'mutirao-Empty', 'No rooms yet.'));
    }
  }

  /** A room's "⋯" menu: the commands that apply to it (they say when they do not). */
  private _menu(room: IRoom): Menu {
    const menu = new Menu({ commands: this._options.commands });
    menu.addClass('mutirao-RoomMenu');
    menu.node.dataset.room = room.name;
    for (const command of ROOM_MENU) {
      if (command === null) {
        menu.addItem({ type: 'separator' });
      } else {
        menu.addItem({ command, args: { room: room.name } });
      }
    }
    return menu;
  }

  /** Open a room (started first if needed) in this window. */
  openRoom(name: string): Promise<void> {
    const room = this.findRoom(name);
    return room ? this._open(room, null) : Promise.resolve();
  }

  /** Start the room's server if needed (and allowed), then go there. */
  private async _open(
    room: IRoom,
    button: HTMLButtonElement | null
  ): Promise<void> {
    const client = this._options.client;
    if (button) {
      button.disabled = true;
    }
    try {
      let detail = await client.getRoom(room.name);
      if (!detail.server.ready) {
        this._status(`Starting ${room.name}…`);
        await client.startServer(room.name);
        for (let i = 0; i < 120 && !detail.server.ready; i++) {
          await new Promise(r => window.setTimeout(r, 1000));
          detail = await client.getRoom(room.name);
        }
        if (!detail.server.ready) {
          throw new Error(`${room.name} did not start; try again later.`);
        }
      }
      this._status('');
      window.location.assign(
        new URL(`${room.url}lab`, window.location.href).href
      );
    } catch (error) {
      this._status(`Cannot open ${room.name}: ${describeFailure(error)}`, true);
    } finally {
      if (button) {
        button.disabled = false;
      }
    }
  }

  private _rooms: IListedRoom[] = [];
  private _me: IMe | null = null;
  private _room: IRoomDetail | null = null;
  private _changed = new Signal<this, void>(this);
  private _newButton: HTMLButtonElement;
  private _isRoomServer = false;
  private _roomNode: HTMLElement;
  private _onlineNode: HTMLUListElement;
  private _listNode: HTMLUListElement;
  private _statusNode: HTMLDivElement;
}
