/**
 * The share dialog's completion: as a name is typed, the people and teams the rooms service
 * offers (the hub's people by user name or display name, its teams, and people a share
 * already waits for), each with their avatar; choosing one fills the form. Names are other
 * people's input: text only, never HTML.
 */
import { usersIcon } from '@jupyterlab/ui-components';

import { el } from '../dom';
import { avatar, nameOf } from '../identity';
import { ISuggestion, RoomsClient } from './api';

/** Milliseconds between the last key and the request. */
export const SUGGEST_DELAY = 150;

/**
 * A list box under a text input; `onChoose` gets the suggestion picked (click or Enter).
 */
export class Suggestions {
  constructor(
    readonly input: HTMLInputElement,
    private _client: RoomsClient,
    private _room: string,
    private _onChoose: (choice: ISuggestion) => void
  ) {
    this.node = el('ul', 'mutirao-Suggestions');
    this.node.id = `mutirao-suggestions-${++Suggestions._count}`;
    this.node.setAttribute('role', 'listbox');
    this.node.setAttribute('aria-label', 'People and teams');
    this.node.dataset.testid = 'mutirao-share-suggestions';
    this.node.hidden = true;
    input.setAttribute('role', 'combobox');
    input.setAttribute('aria-autocomplete', 'list');
    input.setAttribute('aria-controls', this.node.id);
    input.setAttribute('aria-expanded', 'false');
    input.autocomplete = 'off';
    input.addEventListener('input', () => this._schedule());
    input.addEventListener('focus', () => this._schedule());
    input.addEventListener('blur', () => {
      // after a click on an option has been handled
      window.setTimeout(() => this.close(), 200);
    });
    input.addEventListener('keydown', event => this._key(event), true);
  }

  /** The list box; the caller places it under the input. */
  readonly node: HTMLUListElement;

  /** What is offered now. */
  get items(): readonly ISuggestion[] {
    return this._items;
  }

  /** Whether teams are offered (a person is being shared with: people only). */
  kinds: ReadonlySet<ISuggestion['kind']> = new Set(['user', 'group']);

  close(): void {
    this.node.hidden = true;
    this._active = -1;
    this.input.setAttribute('aria-expanded', 'false');
  }

  dispose(): void {
    window.clearTimeout(this._timer);
    this._disposed = true;
  }

  /** Ask the service for what matches the input now. */
  async update(): Promise<void> {
    const query = this.input.value.trim();
    const asked = ++this._asked;
    let found: ISuggestion[] = [];
    try {
      found = await this._client.suggest(this._room, query);
    } catch {
      found = []; // completion is a help: the form still works without it
    }
    if (asked !== this._asked || this._disposed) {
      return; // a later key asked again
    }
    this._items = found.filter(s => this.kinds.has(s.kind));
    this._render();
  }

  private _schedule(): void {
    window.clearTimeout(this._timer);
    this._timer = window.setTimeout(() => void this.update(), SUGGEST_DELAY);
  }

  private _key(event: KeyboardEvent): void {
    if (this.node.hidden || this._items.length === 0) {
      return;
    }
    const n = this._items.length;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const step = event.key === 'ArrowDown' ? 1 : -1;
      this._setActive((this._active + step + n) % n);
    } else if (event.key === 'Enter' && this._active >= 0) {
      event.preventDefault();
      event.stopImmediatePropagation();
      this._choose(this._items[this._active]);
    } else if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      this.close();
    }
  }

  private _setActive(index: number): void {
    this._active = index;
    const options = Array.from(this.node.children) as HTMLElement[];
    options.forEach((option, i) => {
      const on = i === index;
      option.classList.toggle('jp-mod-active', on);
      option.setAttribute('aria-selected', String(on));
      if (on) {
        this.input.setAttribute('aria-activedescendant', option.id);
        option.scrollIntoView({ block: 'nearest' });
      }
    });
  }

  private _choose(choice: ISuggestion): void {
    this.close();
    this._onChoose(choice);
  }

  private _render(): void {
    const options = this._items.map((s, i) => this._option(s, i));
    this.node.replaceChildren(...options);
    this._active = -1;
    const open = options.length > 0 && document.activeElement === this.input;
    this.node.hidden = !open;
    this.input.setAttribute('aria-expanded', String(open));
  }

  private _option(s: ISuggestion, index: number): HTMLLIElement {
    const option = el('li', 'mutirao-Suggestion');
    option.id = `${this.node.id}-${index}`;
    option.setAttribute('role', 'option');
    option.setAttribute('aria-selected', 'false');
    option.dataset.kind = s.kind;
    option.dataset.name = s.name;
    let icon: HTMLElement;
    let detail: string;
    if (s.kind === 'group') {
      icon = el('span', 'mutirao-ShareIcon');
      usersIcon.element({ container: icon });
      detail = 'team';
    } else {
      const who = { ...s, username: s.name };
      icon = avatar(who);
      detail = s.pending ? `${s.name} · waiting for first sign-in` : s.name;
    }
    const text = el('span', 'mutirao-ShareItemText');
    const shown =
      s.kind === 'group' ? s.name : nameOf({ ...s, username: s.name });
    text.append(
      el('span', 'mutirao-ShareItemName', shown),
      el('span', 'mutirao-ShareItemDetail', detail)
    );
    option.append(icon, text);
    // mousedown, not click: the input's blur must not close the list first
    option.addEventListener('mousedown', event => {
      event.preventDefault();
      this._choose(s);
    });
    return option;
  }

  private _items: ISuggestion[] = [];
  private _active = -1;
  private _asked = 0;
  private _timer = 0;
  private _disposed = false;
  private static _count = 0;
}
