/**
 * The comments side panel: the current notebook's threads with filters, the composer of new
 * threads (`composer.ts`), the threads themselves (`threadview.ts`), and export buttons.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { CodeCell } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { describeFailure, el } from '../dom';
import * as api from './api';
import type { IComment, IThread } from './api';
import type { IAnchorTarget } from './badges';
import { Composer } from './composer';
import { refreshTimes } from './render';
import { downloadCommentedCopy, downloadThreads } from './exporter';
import {
  FILTERS,
  matches,
  Mentions,
  NotebookThreads,
  sortThreads,
  ThreadFilter
} from './model';
import { selectRange } from './selection';
import { button, IThreadContext, threadNode } from './threadview';

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
    // "just now" becomes "1 min ago" while the panel stays open
    this._clock = window.setInterval(() => refreshTimes(this.node), 60_000);

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
    this._errorNode.hidden = true;

    this.node.append(
      header,
      this._fileNode,
      filters,
      this._buildExport(),
      this._composer.node,
      this._errorNode,
      this._listNode
    );
    _options.mentions.changed.connect(this._updateMentions, this);
    this._updateMentions();
    this.setFilter('all');
    this.setNotebook(null, null);
    this._composer.update();
    this._updateExport();
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
    if (panel) {
      panel.content.activeCellChanged.connect(this._onActiveCell, this);
      panel.content.model?.contentChanged.connect(this._soon, this);
      panel.context.pathChanged.connect(this._updateFile, this);
    }
    threads?.changed.connect(this._soon, this);
    this._updateFile();
    this._composer.setNotebook(panel, threads);
    this._updateExport();
    this._renderList();
  }

  /**
   * Redraw everything that depends on the user's role (known once the members are read).
   */
  refresh(): void {
    this._composer.update();
    this._updateExport();
    this._renderList(true);
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
    this._composer.start(target);
  }

  /**
   * Download the notebook's threads as JSON (`json`) or a copy of the notebook with them in
   * its metadata (`notebook`), or save that copy beside the notebook (`copy`).
   */
  async exportThreads(how: 'json' | 'notebook' | 'copy'): Promise<void> {
    const threads = this._threads;
    if (!threads) {
      return;
    }
    try {
      if (how === 'json') {
        await downloadThreads(threads.fileId, threads.path);
        this._showStatus(null);
      } else if (how === 'notebook') {
        await downloadCommentedCopy(threads.fileId, threads.path);
        this._showStatus(null);
      } else {
        const saved = await api.saveCommentedCopy(threads.fileId);
        const n = saved.threads;
        this._showStatus(
          `Saved ${saved.path} with ${n} thread${n === 1 ? '' : 's'} in its metadata.`
        );
      }
      this._showError(null);
    } catch (error) {
      this._showError(error);
    }
  }

  dispose(): void {
    this.setNotebook(null, null);
    this._options.mentions.changed.disconnect(this._updateMentions, this);
    window.clearTimeout(this._timer);
    window.clearInterval(this._clock);
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

  private _onActiveCell(): void {
    this._composer.reset();
  }

  // -- export --------------------------------------------------------------------------------

  private _buildExport(): HTMLElement {
    const node = this._exportNode;
    node.setAttribute('role', 'toolbar');
    node.setAttribute('aria-label', 'Export the threads');
    node.append(
      el('span', 'mutirao-ExportLabel', 'Export:'),
      button(
        'JSON',
        'mutirao-ExportJson',
        () => void this.exportThreads('json')
      ),
      button(
        'Notebook',
        'mutirao-ExportNotebook',
        () => void this.exportThreads('notebook')
      ),
      this._saveCopyButton,
      this._statusNode
    );
    for (const [b, title] of [
      [node.children[1], 'Download the threads as a JSON file'],
      [
        node.children[2],
        "Download a copy of the notebook with the threads in its metadata (the notebook itself doesn't change)"
      ],
      [
        this._saveCopyButton,
        'Save a copy of the notebook beside it, with the threads in its metadata'
      ]
    ] as [HTMLElement, string][]) {
      b.title = title;
    }
    this._statusNode.hidden = true;
    return node;
  }

  private _updateExport(): void {
    this._exportNode.hidden = !this._threads;
    const role = this._options.members().me.role;
    // writing a file beside the notebook is for editors and owners
    this._saveCopyButton.hidden = role !== 'editor' && role !== 'owner';
    this._showStatus(null);
  }

  private _showStatus(text: string | null): void {
    this._statusNode.hidden = text === null;
    this._statusNode.textContent = text ?? '';
  }

  private _showError(error: unknown): void {
    this._errorNode.hidden = error === null;
    this._errorNode.className = 'mutirao-Error';
    this._errorNode.textContent = error === null ? '' : describeFailure(error);
  }

  // -- threads -------------------------------------------------------------------------------

  private _soon(): void {
    window.clearTimeout(this._timer);
    this._timer = window.setTimeout(() => {
      this._renderList();
      this._composer.update();
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
    const widgets = this._nb.content.widgets;
    const order = widgets.map(c => c.model.id);
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
        t.text_range && index >= 0
          ? widgets[index].model.sharedModel.getSource()
          : null,
        outdated,
        this._selected.has(t.id),
        t.comments.map(c => this._options.mentions.isUnread(c.id)),
        [...this._editing.keys()]
      ]);
      let entry = this._nodes.get(t.id);
      if (!entry || entry.key !== key || force) {
        const source =
          index >= 0 ? widgets[index].model.sharedModel.getSource() : null;
        const node = threadNode(this._context(), t, index, outdated, source);
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

  /**
   * What the thread nodes need, as the panel has it now.
   */
  private _context(): IThreadContext {
    return {
      me: this._me,
      role: this._options.members().me.role,
      rendermime: this._options.rendermime,
      mentions: this._options.mentions,
      members: () => api.mentionable(this._options.members()),
      selected: this._selected,
      drafts: this._drafts,
      editing: this._editing,
      rerender: () => this._renderList(true),
      run: action => this._run(action),
      remove: (t, c) => this._delete(t, c),
      jump: t => this._jump(t),
      markRead: threads => void this._markRead(threads)
    };
  }

  private async _run(action: () => Promise<IThread>): Promise<void> {
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
    const index = nb?.content.widgets.findIndex(c => c.model.id === t.cell_id);
    if (!nb || index === undefined || index < 0) {
      return;
    }
    const found = { cell: nb.content.widgets[index], index };
    this._options.activate(nb);
    nb.content.activeCellIndex = found.index;
    nb.content.deselectAll();
    void nb.content.scrollToCell(found.cell, 'center');
    const target =
      t.output_index !== null && found.cell instanceof CodeCell
        ? found.cell.outputArea.widgets[t.output_index]?.node
        : undefined;
    if (t.text_range) {
      selectRange(found.cell, t.text_range);
    }
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
  private _nodes = new Map<string, { key: string; node: HTMLElement }>();
  private _drafts = new Map<string, string>();
  private _editing = new Map<string, string>();
  private _timer: number | undefined;
  private _clock: number;
  private _mentionsNode = el('button', 'mutirao-MentionsIndicator');
  private _fileNode = el('div', 'mutirao-CommentsFile');
  private _filtersNode: HTMLElement;
  private _listNode = el('div', 'mutirao-ThreadList');
  private _composer = new Composer({
    members: () => this._options.members(),
    created: thread => {
      this._selected = new Set([thread.id]);
      this._renderList();
    },
    error: error => this._showError(error)
  });
  private _errorNode = el('div', 'mutirao-Error');
  private _exportNode = el('div', 'mutirao-Export');
  private _saveCopyButton = button(
    'Save copy with comments',
    'mutirao-ExportCopy',
    () => void this.exportThreads('copy')
  );
  private _statusNode = el('div', 'mutirao-ExportStatus');
}
