/**
 * Inside a room, the room is named where one looks: its display name in the lab's top bar,
 * with a "Members" button next to it (one click to who is in the room), and at the start of
 * the browser tab's title.
 */
import { usersIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { el } from '../dom';
import { IRoomDetail } from './api';

/** The top bar's room name and members button. */
export class RoomTopBar extends Widget {
  constructor(onMembers: () => void) {
    super();
    this.id = 'mutirao-room-topbar';
    this.addClass('mutirao-RoomTopBar');
    this._name = el('span', 'mutirao-RoomTopBarName');
    this._members = el('button', 'jp-mod-styled mutirao-RoomTopBarMembers');
    this._members.type = 'button';
    this._count = el('span', 'mutirao-RoomTopBarCount');
    const icon = el('span', 'mutirao-RoomTopBarIcon');
    usersIcon.element({ container: icon });
    this._members.append(icon, this._count);
    this._members.addEventListener('click', onMembers);
    this.node.append(this._name, this._members);
    this.hide();
  }

  /** Show the room (or nothing, on a personal server). */
  setRoom(room: IRoomDetail | null): void {
    if (!room) {
      this.hide();
      return;
    }
    const name = room.display_name || room.name;
    this._name.textContent = name;
    this._name.title = `Room ${room.name}`;
    this._count.textContent = String(room.members.length);
    this._members.title = `Members of ${name}`;
    this._members.setAttribute('aria-label', `Members of ${name}`);
    this.show();
  }

  private _name: HTMLSpanElement;
  private _members: HTMLButtonElement;
  private _count: HTMLSpanElement;
}

/**
 * `ML research · analysis.ipynb - JupyterLab`, from JupyterLab's own title (and without the
 * name the room had before, `previous`, if the title still starts with it).
 */
export function roomTitle(
  roomName: string,
  title: string,
  previous = roomName
): string {
  const old = `${previous} · `;
  const base = title.startsWith(old) ? title.slice(old.length) : title;
  return `${roomName} · ${base}`;
}

/**
 * Keep the room's name at the start of the tab's title: JupyterLab rewrites the title as
 * documents change, so watch it, and call the returned function when the name changes.
 */
export function keepRoomInTitle(getName: () => string | null): () => void {
  let shown: string | null = null;
  const apply = () => {
    const name = getName();
    if (!name) {
      return;
    }
    const title = roomTitle(name, document.title, shown ?? name);
    shown = name;
    if (document.title !== title) {
      document.title = title;
    }
  };
  let titleNode = document.querySelector('title');
  if (!titleNode) {
    titleNode = document.createElement('title');
    document.head.appendChild(titleNode);
  }
  new MutationObserver(apply).observe(titleNode, {
    childList: true,
    characterData: true,
    subtree: true
  });
  apply();
  return apply;
}
