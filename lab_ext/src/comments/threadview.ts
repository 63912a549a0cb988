/**
 * One thread in the comments panel: where it is, its comments, and its actions (reply,
 * edit, delete, resolve, jump). Built from plain DOM; bodies go through `renderBody`.
 */
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';

import { avatar, IIdentityLike } from '../identity';
import * as api from './api';
import type { IComment, IThread } from './api';
import { firstLine } from './composer';
import { withMentions } from './mentions';
import { Mentions } from './model';
import { el } from '../dom';
import { renderBody, timeLabel } from './render';
import { quote } from './selection';

/**
 * What a thread's node needs from the panel.
 */
export interface IThreadContext {
  me: string;
  role: string;
  rendermime: IRenderMimeRegistry | null;
  mentions: Mentions;
  /** Who can be @mentioned. */
  members: () => IIdentityLike[];
  selected: ReadonlySet<string>;
  /** Unsent replies, by thread id; comments being edited, by comment id. */
  drafts: Map<string, string>;
  editing: Map<string, string>;
  /** Rebuild every thread's node (after an edit starts or ends). */
  rerender: () => void;
  /** Run an action that answers the updated thread, and show it (or the error). */
  run: (action: () => Promise<IThread>) => Promise<void>;
  remove: (t: IThread, c: IComment) => Promise<void>;
  jump: (t: IThread) => void;
  markRead: (threads: IThread[]) => void;
}

/**
 * Where a thread is, as its header names it.
 */
export function anchorLabel(t: IThread, index: number): string {
  if (index < 0) {
    return 'Deleted cell';
  }
  const where = `Cell ${index + 1}`;
  if (t.output_index !== null) {
    return `${where}, output ${t.output_index + 1}`;
  }
  return t.text_range ? `${where}, selected text` : where;
}

export function button(
  label: string,
  className: string,
  onClick: () => void
): HTMLButtonElement {
  const b = el('button', `mutirao-Button ${className}`, label);
  b.type = 'button';
  b.addEventListener('click', event => {
    event.stopPropagation();
    onClick();
  });
  return b;
}

/**
 * The node of thread `t`, whose cell is at `index` (-1: deleted) and has `source` now.
 */
export function threadNode(
  ctx: IThreadContext,
  t: IThread,
  index: number,
  outdated: boolean,
  source: string | null
): HTMLElement {
  const node = el('div', 'mutirao-Thread');
  node.dataset.threadId = t.id;
  node.dataset.cellId = t.cell_id;
  if (t.output_index !== null) {
    node.dataset.outputIndex = String(t.output_index);
  }
  if (t.text_range) {
    node.dataset.textRange = `${t.text_range.start}-${t.text_range.end}`;
  }
  node.classList.toggle('mutirao-mod-resolved', t.resolved);
  node.classList.toggle('mutirao-mod-outdated', outdated);
  node.classList.toggle('mutirao-mod-selected', ctx.selected.has(t.id));
  node.addEventListener('click', () => ctx.markRead([t]));

  const head = el('div', 'mutirao-ThreadHeader');
  head.appendChild(el('span', 'mutirao-ThreadAnchor', anchorLabel(t, index)));
  if (outdated) {
    head.appendChild(
      el('span', 'mutirao-Tag mutirao-mod-outdated', 'outdated')
    );
  }
  if (t.resolved) {
    const tag = el('span', 'mutirao-Tag mutirao-mod-resolved', 'resolved');
    if (t.resolved_by) {
      tag.title = `Resolved by ${t.resolved_by.display_name || t.resolved_by.username}`;
    }
    head.appendChild(tag);
  }
  const actions = el('span', 'mutirao-ThreadActions');
  if (index >= 0) {
    actions.appendChild(
      button('Jump to cell', 'mutirao-JumpButton', () => ctx.jump(t))
    );
  }
  const role = ctx.role;
  const mine = t.author.username === ctx.me;
  if (role === 'editor' || role === 'owner' || (role === 'commenter' && mine)) {
    actions.appendChild(
      button(t.resolved ? 'Reopen' : 'Resolve', 'mutirao-ResolveButton', () =>
        ctx.run(() => api.setResolved(t.id, !t.resolved))
      )
    );
  }
  head.appendChild(actions);
  node.appendChild(head);

  if (t.text_range && !outdated) {
    // the piece of the source the thread is about, as the cell has it now
    const text = quote(source ?? t.last_source ?? '', t.text_range);
    const q = el('blockquote', 'mutirao-ThreadQuote', firstLine(text, 120));
    q.title = `${text}\n\n(click to select it in the cell)`;
    q.addEventListener('click', event => {
      event.stopPropagation();
      ctx.jump(t);
    });
    node.appendChild(q);
  }

  if (outdated) {
    const box = el('div', 'mutirao-LastSource');
    box.appendChild(
      el(
        'div',
        'mutirao-LastSourceLabel',
        'The cell was deleted. Its last source:'
      )
    );
    box.appendChild(el('pre', 'mutirao-LastSourceCode', t.last_source ?? ''));
    node.appendChild(box);
  }

  for (const c of t.comments) {
    node.appendChild(commentNode(ctx, t, c));
  }

  if (role !== 'viewer') {
    node.appendChild(replyBox(ctx, t));
  }
  return node;
}

function replyBox(ctx: IThreadContext, t: IThread): HTMLElement {
  const reply = document.createElement('textarea');
  reply.className = 'mutirao-ReplyInput';
  reply.dataset.role = 'reply';
  reply.rows = 1;
  reply.placeholder = 'Reply… (@ to mention)';
  reply.value = ctx.drafts.get(t.id) ?? '';
  reply.addEventListener('input', () => ctx.drafts.set(t.id, reply.value));
  const send = () => {
    const body = reply.value;
    if (!body.trim()) {
      return;
    }
    void ctx.run(async () => {
      const updated = await api.reply(t.id, body);
      ctx.drafts.delete(t.id);
      return updated;
    });
  };
  reply.addEventListener('keydown', event => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      send();
    }
  });
  const box = el('div', 'mutirao-ReplyBox');
  box.append(
    withMentions(reply, ctx.members),
    button('Reply', 'mutirao-ReplyButton', send)
  );
  return box;
}

function commentNode(
  ctx: IThreadContext,
  t: IThread,
  c: IComment
): HTMLElement {
  const node = el('div', 'mutirao-Comment');
  node.dataset.commentId = c.id;
  const unread = ctx.mentions.isUnread(c.id);
  node.classList.toggle('mutirao-mod-unread', unread);
  const meta = el('div', 'mutirao-CommentMeta');
  meta.append(
    avatar(c.author),
    el(
      'span',
      'mutirao-AuthorName',
      c.author.display_name || c.author.username
    ),
    timeLabel(c.created_at)
  );
  meta.lastElementChild?.setAttribute('data-username', c.author.username);
  (meta.children[1] as HTMLElement).title = `@${c.author.username}`;
  if (c.edited_at) {
    meta.appendChild(el('span', 'mutirao-Edited', '(edited)'));
  }
  if (unread) {
    meta.appendChild(
      el('span', 'mutirao-Tag mutirao-mod-mention', 'mentions you')
    );
  }
  node.appendChild(meta);

  const role = ctx.role;
  const mine = c.author.username === ctx.me;
  const moderator = role === 'editor' || role === 'owner';
  if (ctx.editing.has(c.id)) {
    const editor = document.createElement('textarea');
    editor.className = 'mutirao-EditInput';
    editor.dataset.role = `edit-${c.id}`;
    editor.rows = 3;
    editor.value = ctx.editing.get(c.id) ?? c.body;
    editor.addEventListener('input', () => ctx.editing.set(c.id, editor.value));
    const save = () =>
      void ctx.run(async () => {
        const updated = await api.editComment(t.id, c.id, editor.value);
        ctx.editing.delete(c.id);
        return updated;
      });
    const cancel = () => {
      ctx.editing.delete(c.id);
      ctx.rerender();
    };
    editor.addEventListener('keydown', event => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        save();
      } else if (event.key === 'Escape') {
        cancel();
      }
    });
    const bar = el('div', 'mutirao-CommentActions');
    bar.append(
      button('Save', 'mutirao-SaveButton', save),
      button('Cancel', 'mutirao-CancelButton', cancel)
    );
    node.append(withMentions(editor, ctx.members), bar);
    return node;
  }

  const body = el('div', 'mutirao-CommentBody');
  void renderBody(ctx.rendermime, c.body, body);
  node.appendChild(body);
  if (role !== 'viewer' && (mine || moderator)) {
    const bar = el('div', 'mutirao-CommentActions');
    bar.append(
      button('Edit', 'mutirao-EditButton', () => {
        ctx.editing.set(c.id, c.body);
        ctx.rerender();
      }),
      button('Delete', 'mutirao-DeleteButton', () => void ctx.remove(t, c))
    );
    node.appendChild(bar);
  }
  return node;
}
