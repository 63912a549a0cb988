/**
 * The comments side panel: the current notebook's threads with filters, a composer for a new
 * thread on the active cell (or one of its outputs), replies, edits, resolve and reopen.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Cell, CodeCell } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { MutiraoAPIError } from '../handler';
import * as api from './api';
import type { IComment, IThread } from './api';
import type { IAnchorTarget } from './badges';
import { withMentions } from './mentions';
import {
  FILTERS,
  matches,
  Mentions,
  NotebookThreads,
  sortThreads,
  ThreadFilter
} from './model';
import { avatar, el, renderBody, timeLabel } from './render';

/**
 * Id of the right side-panel widget (also the DOM id of its root node).
 */
export const COMMENTS_PANEL_ID = 'mutirao-comments';

export const commentsIcon = new LabIcon({
  name: 'mutirao-lab:comments',
  svgstr: `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 16 16"><path class="jp-icon3" fill="#616161" d="M2 2h12a1 1 0 0 1 1 1v8a1 1 0 0 1-1 1H6l-3.5 3V12H2a1 1 0 0 1-1-1V3a1 1 0 0 1 1-1z"/></svg>`
});

/**
 * What the panel needs from the plugin.
 */
export interface ICommentsPanelOptions {
  rendermime: IRenderMimeRegistry | null;
  mentions: Mentions;
  /** The user's name, role and who can be @mentioned (GET members). */
  members: () => api.IMembers;
  /** Bring a notebook to the front. */
  activate: (panel: NotebookPanel) => void;
}

const FILTER_LABELS: Record<ThreadFilter, string> = {
  all: 'All',
  open: 'Open',
  resolved: 'Resolved',
  mine: 'Mine',
  mentions: 'Mentions'
};

function describe(error: unknown): string {
  if (error instanceof MutiraoAPIError) {
    return `${error.message} (HTTP ${error.status})`;
  }
  return error instanceof Error ? error.message : String(error);
}

function firstLine(source: string): string {
  const line = source.split('\n').find(l => l.trim().length > 0) ?? '';
  return line.length > 60 ? `${line.slice(0, 57)}…` : line;
}

/**
 * The comments panel. One for the whole lab; it shows the current notebook's threads.
 */
export class CommentsPanel extends Widget {
  constructor(private _options: ICommentsPanelOptions) {
    super();
    this.id = COMMENTS_PANEL_ID;
    this.addClass('mutirao-CommentsPanel');
    this.node.dataset.testid = COMMENTS_PANEL_ID;
    this.title.icon = commentsIcon;
    this.title.caption = 'Comments';

    const header = el('div', 'mutirao-CommentsHeader');
    header.append(el('h2', 'mutirao-heading', 'Comments'), this._mentionsNode);
    this._mentionsNode.type = 'button';
    this._mentionsNode.addEventListener('click', () =>
      this.setFilter('mentions')
    );

    const filters = el('div', 'mutirao-Filters');
    filters.setAttribute('role', 'toolbar');
    for (const f of FILTERS) {
      const b = el('button', 'mutirao-Filter', FILTER_LABELS[f]);
      b.type = 'button';
      b.dataset.filter = f;
      b.addEventListener('click', () => this.setFilter(f));
      filters.appendChild(b);
    }
    this._filtersNode = filters;

    this.node.append(
      header,
      this._fileNode,
      filters,
      this._buildComposer(),
      this._listNode
    );
    _options.mentions.changed.connect(this._updateMentions, this);
    this._updateMentions();
    this.setFilter('all');
    this.setNotebook(null, null);
  }

  get filter(): ThreadFilter {
    return this._filter;
  }

  setFilter(filter: ThreadFilter): void {
    this._filter = filter;
    for (const b of Array.from(
      this._filtersNode.querySelectorAll<HTMLElement>('.mutirao-Filter')
    )) {
      const on = b.dataset.filter === filter;
      b.classList.toggle('mutirao-mod-active', on);
      b.setAttribute('aria-pressed', String(on));
    }
    this._renderList();
  }

  /**
   * Show `panel`'s threads (or nothing, for no notebook).
   */
  setNotebook(
    panel: NotebookPanel | null,
    threads: NotebookThreads | null
  ): void {
    if (this._nb === panel && this._threads === threads) {
      return;
    }
    if (this._nb) {
      this._nb.content.activeCellChanged.disconnect(this._onActiveCell, this);
      this._nb.content.model?.contentChanged.disconnect(this._soon, this);
      this._nb.context.pathChanged.disconnect(this._updateFile, this);
    }
    this._threads?.changed.disconnect(this._soon, this);
    this._nb = panel;
    this._threads = threads;
    this._nodes.clear();
    this._listNode.replaceChildren();
    this._selected.clear();
    this._target = null;
    if (panel) {
      panel.content.activeCellChanged.connect(this._onActiveCell, this);
      panel.content.model?.contentChanged.connect(this._soon, this);
      panel.context.pathChanged.connect(this._updateFile, this);
    }
    threads?.changed.connect(this._soon, this);
    this._updateFile();
    this._updateComposer();
    this._renderList();
  }

  /**
   * Show the threads on one cell or output, and select them.
   */
  showAnchor(target: IAnchorTarget): void {
    const threads = (this._threads?.threads ?? []).filter(
      t =>
        t.cell_id === target.cellId &&
        (target.outputIndex === null
          ? true
          : t.output_index === target.outputIndex)
    );
    this._selected = new Set(threads.map(t => t.id));
    if (!threads.every(t => matches(t, this._filter, this._me))) {
      this.setFilter('all');
    } else {
      this._renderList();
    }
    const first = this._nodes.get(threads[0]?.id ?? '');
    first?.node.scrollIntoView({ block: 'nearest' });
    void this._markRead(threads);
  }

  /**
   * Point the composer at a cell or output and focus it.
   */
  startThread(target: IAnchorTarget): void {
    this._target = target;
    this._updateComposer();
    this._input.focus();
  }

  dispose(): void {
    this.setNotebook(null, null);
    this._options.mentions.changed.disconnect(this._updateMentions, this);
    window.clearTimeout(this._timer);
    super.dispose();
  }

  private get _me(): string {
    return this._options.members().me.username;
  }

  // -- header ----------------------------------------------------------------------------

  private _updateMentions(): void {
    const n = this._options.mentions.unread;
    const node = this._mentionsNode;
    node.className = 'mutirao-MentionsIndicator';
    node.dataset.count = String(n);
    node.hidden = n === 0;
    node.textContent = `@ ${n}`;
    node.title = `${n} unread mention${n === 1 ? '' : 's'}: show the threads that mention you`;
    this.title.className = n > 0 ? 'mutirao-mod-unread' : '';
    this.title.caption = n > 0 ? `Comments (${n} unread mentions)` : 'Comments';
    this._renderList();
  }

  private _updateFile(): void {
    const nb = this._nb;
    this._fileNode.textContent = nb
      ? nb.context.localPath
      : 'Open a notebook to see its comments.';
    this._fileNode.classList.toggle('mutirao-mod-none', !nb);
  }

  // -- composer ----------------------------------------------------------------------------

  private _buildComposer(): HTMLElement {
    const box = el('div', 'mutirao-Composer');
    this._input.className = 'mutirao-ComposerInput';
    this._input.rows = 3;
    this._input.placeholder =
      'Comment on the active cell… (Markdown, @ to mention)';
    this._input.addEventListener('keydown', event => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        void this._submitThread();
      }
    });
    this._anchorSelect.className = 'mutirao-ComposerAnchor';
    this._anchorSelect.addEventListener('change', () => {
      const cellId = this._anchorSelect.dataset.cellId ?? '';
      const v = this._anchorSelect.value;
      this._target = { cellId, outputIndex: v === '' ? null : Number(v) };
    });
    this._submit.className =
      'mutirao-ComposerSubmit jp-mod-styled jp-mod-accept';
    this._submit.type = 'button';
    this._submit.textContent = 'Comment';
    this._submit.addEventListener('click', () => void this._submitThread());
    const row = el('div', 'mutirao-ComposerRow');
    row.append(this._anchorSelect, this._submit);
    box.append(
      this._targetNode,
      withMentions(this._input, () => this._options.members().members),
      row,
      this._errorNode
    );
    this._errorNode.hidden = true;
    return box;
  }

  private _onActiveCell(): void {
    this._target = null;
    this._updateComposer();
  }

  private _cellOf(cellId: string): { cell: Cell; index: number } | null {
    const widgets = this._nb?.content.widgets ?? [];
    const index = widgets.findIndex(c => c.model.id === cellId);
    return index < 0 ? null : { cell: widgets[index], index };
  }

  private _updateComposer(): void {
    const nb = this._nb;
    const cell =
      (this._target && this._cellOf(this._target.cellId)?.cell) ??
      nb?.content.activeCell ??
      null;
    const canWrite = this._options.members().me.role !== 'viewer';
    const enabled = !!nb && !!cell && canWrite;
    this._input.disabled = !enabled;
    this._submit.disabled = !enabled;
    this._anchorSelect.disabled = !enabled;
    if (!nb || !cell) {
      this._targetNode.textContent = nb
        ? 'Select a cell to comment on it.'
        : '';
      this._anchorSelect.replaceChildren();
      return;
    }
    if (!canWrite) {
      this._targetNode.textContent =
        'Viewers can read comments, not write them.';
    }
    const index = nb.content.widgets.indexOf(cell);
    const cellId = cell.model.id;
    const outputs = cell instanceof CodeCell ? cell.model.outputs.length : 0;
    const wanted =
      this._target?.cellId === cellId ? this._target.outputIndex : null;
    const options = [new Option(`Cell ${index + 1}`, '')];
    for (let i = 0; i < outputs; i++) {
      options.push(new Option(`Cell ${index + 1}, output ${i + 1}`, String(i)));
    }
    this._anchorSelect.replaceChildren(...options);
    this._anchorSelect.dataset.cellId = cellId;
    this._anchorSelect.value =
      wanted !== null && wanted < outputs ? String(wanted) : '';
    if (canWrite) {
      const preview = firstLine(cell.model.sharedModel.getSource());
      this._targetNode.textContent = `New thread on cell ${index + 1}${preview ? `: ${preview}` : ''}`;
    }
    this._targetNode.className = 'mutirao-ComposerTarget';
  }

  private async _submitThread(): Promise<void> {
    const threads = this._threads;
    const cellId = this._anchorSelect.dataset.cellId;
    const body = this._input.value;
    if (!threads || !cellId || !body.trim()) {
      return;
    }
    const v = this._anchorSelect.value;
    this._submit.disabled = true;
    try {
      const thread = await api.createThread({
        file_id: threads.fileId,
        cell_id: cellId,
        body,
        output_index: v === '' ? null : Number(v)
      });
      this._input.value = '';
      this._showError(null);
      this._selected = new Set([thread.id]);
      threads.put(thread);
    } catch (error) {
      this._showError(error);
    } finally {
      this._submit.disabled = false;
    }
  }

  private _showError(error: unknown): void {
    this._errorNode.hidden = error === null;
    this._errorNode.className = 'mutirao-Error';
    this._errorNode.textContent = error === null ? '' : describe(error);
  }

  // -- threads -------------------------------------------------------------------------------

  private _soon(): void {
    window.clearTimeout(this._timer);
    this._timer = window.setTimeout(() => {
      this._renderList();
      this._updateComposer();
    }, 30);
  }

  private _renderList(force = false): void {
    const threads = this._threads;
    if (!threads || !this._nb) {
      this._listNode.replaceChildren(
        el('p', 'mutirao-Empty', 'No notebook is open.')
      );
      this._nodes.clear();
      return;
    }
    const order = this._nb.content.widgets.map(c => c.model.id);
    const present = new Set(order);
    const me = this._me;
    const visible = sortThreads(threads.threads, order).filter(t =>
      matches(t, this._filter, me)
    );
    const nodes: HTMLElement[] = [];
    const seen = new Set<string>();
    for (const t of visible) {
      const index = order.indexOf(t.cell_id);
      const outdated = t.outdated || !present.has(t.cell_id);
      const key = JSON.stringify([
        t,
        index,
        outdated,
        this._selected.has(t.id),
        t.comments.map(c => this._options.mentions.isUnread(c.id)),
        [...this._editing.keys()]
      ]);
      let entry = this._nodes.get(t.id);
      if (!entry || entry.key !== key || force) {
        const node = this._threadNode(t, index, outdated);
        if (entry) {
          this._keepFocus(entry.node, node);
        }
        entry = { key, node };
        this._nodes.set(t.id, entry);
      }
      seen.add(t.id);
      nodes.push(entry.node);
    }
    for (const id of [...this._nodes.keys()]) {
      if (!seen.has(id)) {
        this._nodes.delete(id);
      }
    }
    if (nodes.length === 0) {
      const text =
        threads.threads.length === 0
          ? 'No comments yet. Select a cell and write one above.'
          : 'No threads match this filter.';
      this._listNode.replaceChildren(el('p', 'mutirao-Empty', text));
      return;
    }
    const current = Array.from(this._listNode.children);
    if (
      current.length !== nodes.length ||
      current.some((n, i) => n !== nodes[i])
    ) {
      const focused = document.activeElement;
      const caret =
        focused instanceof HTMLTextAreaElement
          ? [focused.selectionStart, focused.selectionEnd]
          : null;
      this._listNode.replaceChildren(...nodes);
      if (
        focused instanceof HTMLTextAreaElement &&
        caret &&
        focused.isConnected
      ) {
        focused.focus();
        focused.setSelectionRange(caret[0], caret[1]);
      }
    }
  }

  /**
   * A thread's node was rebuilt (a live change): keep the user's place in what they type.
   */
  private _keepFocus(old: HTMLElement, fresh: HTMLElement): void {
    const focused = document.activeElement;
    if (!(focused instanceof HTMLTextAreaElement) || !old.contains(focused)) {
      return;
    }
    const selector = focused.dataset.role
      ? `textarea[data-role="${focused.dataset.role}"]`
      : null;
    const twin = selector
      ? fresh.querySelector<HTMLTextAreaElement>(selector)
      : null;
    if (twin) {
      const [start, end] = [focused.selectionStart, focused.selectionEnd];
      window.requestAnimationFrame(() => {
        twin.focus();
        twin.setSelectionRange(start, end);
      });
    }
  }

  private _threadNode(
    t: IThread,
    index: number,
    outdated: boolean
  ): HTMLElement {
    const node = el('div', 'mutirao-Thread');
    node.dataset.threadId = t.id;
    node.dataset.cellId = t.cell_id;
    if (t.output_index !== null) {
      node.dataset.outputIndex = String(t.output_index);
    }
    node.classList.toggle('mutirao-mod-resolved', t.resolved);
    node.classList.toggle('mutirao-mod-outdated', outdated);
    node.classList.toggle('mutirao-mod-selected', this._selected.has(t.id));
    node.addEventListener('click', () => void this._markRead([t]));

    const head = el('div', 'mutirao-ThreadHeader');
    const where =
      index < 0
        ? 'Deleted cell'
        : `Cell ${index + 1}${t.output_index !== null ? `, output ${t.output_index + 1}` : ''}`;
    head.appendChild(el('span', 'mutirao-ThreadAnchor', where));
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
        this._button('Jump to cell', 'mutirao-JumpButton', () => this._jump(t))
      );
    }
    const role = this._options.members().me.role;
    const mine = t.author.username === this._me;
    if (
      role === 'editor' ||
      role === 'owner' ||
      (role === 'commenter' && mine)
    ) {
      actions.appendChild(
        this._button(
          t.resolved ? 'Reopen' : 'Resolve',
          'mutirao-ResolveButton',
          () => this._run(t, () => api.setResolved(t.id, !t.resolved))
        )
      );
    }
    head.appendChild(actions);
    node.appendChild(head);

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
      node.appendChild(this._commentNode(t, c, role));
    }

    if (role !== 'viewer') {
      const reply = document.createElement('textarea');
      reply.className = 'mutirao-ReplyInput';
      reply.dataset.role = 'reply';
      reply.rows = 1;
      reply.placeholder = 'Reply… (@ to mention)';
      reply.value = this._drafts.get(t.id) ?? '';
      reply.addEventListener('input', () =>
        this._drafts.set(t.id, reply.value)
      );
      const send = () => {
        const body = reply.value;
        if (!body.trim()) {
          return;
        }
        void this._run(t, async () => {
          const updated = await api.reply(t.id, body);
          this._drafts.delete(t.id);
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
        withMentions(reply, () => this._options.members().members),
        this._button('Reply', 'mutirao-ReplyButton', send)
      );
      node.appendChild(box);
    }
    return node;
  }

  private _commentNode(t: IThread, c: IComment, role: string): HTMLElement {
    const node = el('div', 'mutirao-Comment');
    node.dataset.commentId = c.id;
    const unread = this._options.mentions.isUnread(c.id);
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

    const mine = c.author.username === this._me;
    const moderator = role === 'editor' || role === 'owner';
    if (this._editing.has(c.id)) {
      const editor = document.createElement('textarea');
      editor.className = 'mutirao-EditInput';
      editor.dataset.role = `edit-${c.id}`;
      editor.rows = 3;
      editor.value = this._editing.get(c.id) ?? c.body;
      editor.addEventListener('input', () =>
        this._editing.set(c.id, editor.value)
      );
      const save = () =>
        void this._run(t, async () => {
          const updated = await api.editComment(t.id, c.id, editor.value);
          this._editing.delete(c.id);
          return updated;
        });
      editor.addEventListener('keydown', event => {
        if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          save();
        } else if (event.key === 'Escape') {
          this._editing.delete(c.id);
          this._renderList(true);
        }
      });
      const bar = el('div', 'mutirao-CommentActions');
      bar.append(
        this._button('Save', 'mutirao-SaveButton', save),
        this._button('Cancel', 'mutirao-CancelButton', () => {
          this._editing.delete(c.id);
          this._renderList(true);
        })
      );
      node.append(
        withMentions(editor, () => this._options.members().members),
        bar
      );
      return node;
    }

    const body = el('div', 'mutirao-CommentBody');
    void renderBody(this._options.rendermime, c.body, body);
    node.appendChild(body);
    if (role !== 'viewer' && (mine || moderator)) {
      const bar = el('div', 'mutirao-CommentActions');
      bar.append(
        this._button('Edit', 'mutirao-EditButton', () => {
          this._editing.set(c.id, c.body);
          this._renderList(true);
        }),
        this._button(
          'Delete',
          'mutirao-DeleteButton',
          () => void this._delete(t, c)
        )
      );
      node.appendChild(bar);
    }
    return node;
  }

  private _button(
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

  private async _run(
    t: IThread,
    action: () => Promise<IThread>
  ): Promise<void> {
    try {
      const updated = await action();
      this._showError(null);
      this._threads?.put(updated);
    } catch (error) {
      this._showError(error);
    }
  }

  private async _delete(t: IThread, c: IComment): Promise<void> {
    const whole = t.comments[0]?.id === c.id;
    const result = await showDialog({
      title: whole ? 'Delete the thread?' : 'Delete the comment?',
      body: whole
        ? 'Deleting the first comment deletes the whole thread, with its replies.'
        : 'The comment will be gone for everyone.',
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
    });
    if (!result.button.accept) {
      return;
    }
    try {
      await api.deleteComment(t.id, c.id);
      this._showError(null);
      if (whole) {
        this._threads?.remove(t.id);
      } else {
        this._threads?.put(await api.getThread(t.id));
      }
    } catch (error) {
      this._showError(error);
    }
  }

  private _jump(t: IThread): void {
    const nb = this._nb;
    const found = this._cellOf(t.cell_id);
    if (!nb || !found) {
      return;
    }
    this._options.activate(nb);
    nb.content.activeCellIndex = found.index;
    nb.content.deselectAll();
    void nb.content.scrollToCell(found.cell, 'center');
    const target =
      t.output_index !== null && found.cell instanceof CodeCell
        ? found.cell.outputArea.widgets[t.output_index]?.node
        : undefined;
    const flash = target ?? found.cell.node;
    flash.classList.add('mutirao-mod-flash');
    window.setTimeout(() => flash.classList.remove('mutirao-mod-flash'), 1500);
  }

  private async _markRead(threads: IThread[]): Promise<void> {
    const ids: string[] = [];
    for (const t of threads) {
      ids.push(...t.comments.map(c => c.id));
    }
    try {
      await this._options.mentions.markRead(ids);
    } catch (error) {
      console.warn('Mutirão: could not mark mentions read', error);
    }
  }

  private _nb: NotebookPanel | null = null;
  private _threads: NotebookThreads | null = null;
  private _filter: ThreadFilter = 'all';
  private _selected = new Set<string>();
  private _target: IAnchorTarget | null = null;
  private _nodes = new Map<string, { key: string; node: HTMLElement }>();
  private _drafts = new Map<string, string>();
  private _editing = new Map<string, string>();
  private _timer: number | undefined;
  private _mentionsNode = el('button', 'mutirao-MentionsIndicator');
  private _fileNode = el('div', 'mutirao-CommentsFile');
  private _filtersNode: HTMLElement;
  private _listNode = el('div', 'mutirao-ThreadList');
  private _input = document.createElement('textarea');
  private _anchorSelect = document.createElement('select');
  private _submit = document.createElement('button');
  private _targetNode = el('div', 'mutirao-ComposerTarget');
  private _errorNode = el('div', 'mutirao-Error');
}
