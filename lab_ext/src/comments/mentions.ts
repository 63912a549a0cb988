/**
 * @mention autocomplete for a comment's textarea, from the room's members, shown as they are
 * everywhere else (picture or initials on their colour, display name) and found by user name
 * or by any word of their display name.
 */
import { el } from '../dom';
import { avatar, IIdentityLike, nameOf } from '../identity';

// `@` at the start or after a non-name character, then the part of a name typed so far
const TYPING = /(^|[^\w@])@([\w.\-+]*)$/;

/**
 * The `@name` being typed just before `caret`, if any.
 */
export function mentionAt(
  text: string,
  caret: number
): { start: number; prefix: string } | null {
  const m = TYPING.exec(text.slice(0, caret));
  if (!m) {
    return null;
  }
  return { start: caret - m[2].length - 1, prefix: m[2] };
}

/**
 * Members whose user name, or a word of whose display name, starts with `prefix`
 * (case-insensitive), at most `limit`; user names first.
 */
export function suggest<T extends IIdentityLike | string>(
  members: T[],
  prefix: string,
  limit = 8
): T[] {
  const p = prefix.toLowerCase();
  const username = (m: T) => (typeof m === 'string' ? m : m.username);
  const byName = members.filter(m => username(m).toLowerCase().startsWith(p));
  const byWord = members.filter(
    m =>
      typeof m !== 'string' &&
      !byName.includes(m) &&
      p.length > 0 &&
      (m.display_name ?? '')
        .toLowerCase()
        .split(/\s+/)
        .some(w => w.startsWith(p))
  );
  return [...byName, ...byWord].slice(0, limit);
}

/**
 * Wrap `textarea` with a completion list that opens on `@`. Arrow keys move, Enter or Tab
 * picks, Escape closes. Returns the wrapper, to put where the textarea was to go.
 */
export function withMentions(
  textarea: HTMLTextAreaElement,
  members: () => IIdentityLike[]
): HTMLElement {
  const wrapper = el('div', 'mutirao-MentionWrapper');
  const list = el('ul', 'mutirao-MentionList');
  list.setAttribute('role', 'listbox');
  list.hidden = true;
  wrapper.append(textarea, list);
  let items: IIdentityLike[] = [];
  let active = 0;
  let start = 0;

  const close = () => {
    list.hidden = true;
    items = [];
  };
  const show = () => {
    list.replaceChildren(
      ...items.map((person, i) => {
        const name = person.username;
        // their picture (or initials on their colour), display name and @user name
        const li = el('li', 'mutirao-MentionOption');
        li.append(
          avatar(person, { className: 'mutirao-MentionAvatar' }),
          el('span', 'mutirao-MentionName', nameOf(person)),
          el('span', 'mutirao-MentionHandle', `@${name}`)
        );
        li.setAttribute('role', 'option');
        li.dataset.username = name;
        li.classList.toggle('mutirao-mod-active', i === active);
        li.addEventListener('mousedown', event => {
          event.preventDefault(); // keep the textarea's focus
          pick(name);
        });
        return li;
      })
    );
    list.hidden = items.length === 0;
  };
  const pick = (name: string) => {
    const caret = textarea.selectionStart ?? textarea.value.length;
    const before = textarea.value.slice(0, start);
    const after = textarea.value.slice(caret);
    textarea.value = `${before}@${name} ${after}`;
    const pos = before.length + name.length + 2;
    textarea.setSelectionRange(pos, pos);
    close();
    textarea.dispatchEvent(new Event('input', { bubbles: true }));
    textarea.focus();
  };

  textarea.addEventListener('input', () => {
    const at = mentionAt(
      textarea.value,
      textarea.selectionStart ?? textarea.value.length
    );
    if (!at) {
      close();
      return;
    }
    start = at.start;
    items = suggest(members(), at.prefix);
    // a complete name followed by nothing else needs no list
    if (items.length === 1 && items[0].username === at.prefix) {
      items = [];
    }
    active = 0;
    show();
  });
  textarea.addEventListener('keydown', event => {
    if (list.hidden) {
      return;
    }
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      const step = event.key === 'ArrowDown' ? 1 : -1;
      active = (active + step + items.length) % items.length;
      show();
    } else if (event.key === 'Enter' || event.key === 'Tab') {
      pick(items[active].username);
    } else if (event.key === 'Escape') {
      close();
    } else {
      return;
    }
    event.preventDefault();
    event.stopImmediatePropagation();
  });
  textarea.addEventListener('blur', () => window.setTimeout(close, 150));
  return wrapper;
}
