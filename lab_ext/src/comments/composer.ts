/**
 * The composer at the top of the comments panel: a new thread on the active cell, on one of
 * its outputs, or on the text selected in its source.
 */
import { Cell, CodeCell } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';

import * as api from './api';
import type { IThread } from './api';
import type { IAnchorTarget } from './badges';
import { withMentions } from './mentions';
import { NotebookThreads } from './model';
import { el } from '../dom';
import { ITextRange, quote } from './selection';

/**
 * The anchor list's value for "the selected text".
 */
const TEXT = 'text';

export function firstLine(source: string, max = 60): string {
  const line = source.split('\n').find(l => l.trim().length > 0) ?? '';
  return line.length > max ? `${line.slice(0, max - 3)}…` : line;
}

export interface IComposerOptions {
  /** The user's name, role and who can be @mentioned. */
  members: () => api.IMembers;
  /** A thread was started (and is in the notebook's threads). */
  created: (thread: IThread) => void;
  /** Show an error, or clear it (null). */
  error: (error: unknown) => void;
}

export class Composer {
  readonly node = el('div', 'mutirao-Composer');

  constructor(private _options: IComposerOptions) {
    this._input.className = 'mutirao-ComposerInput';
    this._input.rows = 3;
    this._input.placeholder =
      'Comment on the active cell… (Markdown, @ to mention)';
    this._input.addEventListener('keydown', event => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        void this.submit();
      }
    });
    this._anchor.className = 'mutirao-ComposerAnchor';
    this._anchor.addEventListener('change', () => this._updateTarget());
    this._submit.className =
      'mutirao-ComposerSubmit jp-mod-styled jp-mod-accept';
    this._submit.type = 'button';
    this._submit.textContent = 'Comment';
    this._submit.addEventListener('click', () => void this.submit());
    const row = el('div', 'mutirao-ComposerRow');
    row.append(this._anchor, this._submit);
    this.node.append(
      this._targetNode,
      withMentions(this._input, () => api.mentionable(this._options.members())),
      row
    );
  }

  /**
   * Show the composer for `panel`'s threads (or disable it).
   */
  setNotebook(
    panel: NotebookPanel | null,
    threads: NotebookThreads | null
  ): void {
    this._nb = panel;
    this._threads = threads;
    this._target = null;
    this._range = null;
    this.update();
  }

  /**
   * Point the composer at a cell, an output or a range of a cell's source, and focus it.
   */
  start(target: IAnchorTarget): void {
    this._target = target;
    this._range = target.textRange
      ? { cellId: target.cellId, range: target.textRange }
      : null;
    this.update();
    this._input.focus();
  }

  /**
   * The active cell changed: a target chosen before no longer holds.
   */
  reset(): void {
    this._target = null;
    this._range = null;
    this.update();
  }

  focus(): void {
    this._input.focus();
  }

  private _cell(): Cell | null {
    const nb = this._nb;
    if (!nb) {
      return null;
    }
    const wanted = this._target?.cellId;
    return (
      (wanted && nb.content.widgets.find(c => c.model.id === wanted)) ||
      nb.content.activeCell ||
      null
    );
  }

  /**
   * Bring the list of anchors and the target line up to date with the notebook.
   */
  update(): void {
    const nb = this._nb;
    const cell = this._cell();
    const canWrite = this._options.members().me.role !== 'viewer';
    const enabled = !!nb && !!cell && canWrite;
    this._input.disabled = !enabled;
    this._submit.disabled = !enabled;
    this._anchor.disabled = !enabled;
    if (!nb || !cell) {
      this._targetNode.textContent = nb
        ? 'Select a cell to comment on it.'
        : '';
      this._anchor.replaceChildren();
      return;
    }
    const index = nb.content.widgets.indexOf(cell);
    const cellId = cell.model.id;
    const outputs = cell instanceof CodeCell ? cell.model.outputs.length : 0;
    const mine = this._target?.cellId === cellId ? this._target : null;
    const range = this._rangeOn(cellId);
    const options = [new Option(`Cell ${index + 1}`, '')];
    if (range) {
      options.push(new Option(`Cell ${index + 1}, selected text`, TEXT));
    }
    for (let i = 0; i < outputs; i++) {
      options.push(new Option(`Cell ${index + 1}, output ${i + 1}`, String(i)));
    }
    this._anchor.replaceChildren(...options);
    this._anchor.dataset.cellId = cellId;
    const outputIndex = mine?.outputIndex ?? null;
    this._anchor.value = mine?.textRange
      ? TEXT
      : outputIndex !== null && outputIndex < outputs
        ? String(outputIndex)
        : '';
    this._updateTarget();
  }

  /**
   * The selection the composer was started on, when it is on this cell.
   */
  private _rangeOn(cellId: string): ITextRange | null {
    return this._range?.cellId === cellId ? this._range.range : null;
  }

  private _updateTarget(): void {
    const nb = this._nb;
    const cell = this._cell();
    this._targetNode.className = 'mutirao-ComposerTarget';
    this._targetNode.replaceChildren();
    if (!nb || !cell) {
      return;
    }
    if (this._options.members().me.role === 'viewer') {
      this._targetNode.textContent =
        'Viewers can read comments, not write them.';
      return;
    }
    const index = nb.content.widgets.indexOf(cell);
    const source = cell.model.sharedModel.getSource();
    const range =
      this._anchor.value === TEXT ? this._rangeOn(cell.model.id) : null;
    if (range) {
      this._targetNode.append(
        `New thread on cell ${index + 1}, on `,
        el('q', 'mutirao-ComposerQuote', firstLine(quote(source, range), 50))
      );
      return;
    }
    const preview = firstLine(source);
    this._targetNode.textContent = `New thread on cell ${index + 1}${preview ? `: ${preview}` : ''}`;
  }

  async submit(): Promise<void> {
    const threads = this._threads;
    const cellId = this._anchor.dataset.cellId;
    const body = this._input.value;
    if (!threads || !cellId || !body.trim()) {
      return;
    }
    const v = this._anchor.value;
    const textRange = v === TEXT ? this._rangeOn(cellId) : null;
    this._submit.disabled = true;
    try {
      const thread = await api.createThread({
        file_id: threads.fileId,
        cell_id: cellId,
        body,
        output_index: v === '' || v === TEXT ? null : Number(v),
        text_range: textRange
      });
      this._input.value = '';
      this._target = null;
      this._range = null;
      this._options.error(null);
      threads.put(thread);
      this._options.created(thread);
      this.update();
    } catch (error) {
      this._options.error(error);
    } finally {
      this._submit.disabled = false;
    }
  }

  private _nb: NotebookPanel | null = null;
  private _threads: NotebookThreads | null = null;
  private _target: IAnchorTarget | null = null;
  private _range: { cellId: string; range: ITextRange } | null = null;
  private _input = document.createElement('textarea');
  private _anchor = document.createElement('select');
  private _submit = document.createElement('button');
  private _targetNode = el('div', 'mutirao-ComposerTarget');
}
