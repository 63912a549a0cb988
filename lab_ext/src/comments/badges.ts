/**
 * Count badges on the cells and outputs of a notebook that have threads.
 */
import { Cell, CodeCell } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';

import type { IThread } from './api';
import { countByCell, IAnchorCounts, NotebookThreads } from './model';
import { el } from '../dom';
import { ITextRange, markRanges } from './selection';

const BADGE = 'mutirao-CommentBadge';

/**
 * Where a thread is, as the side panel and the badges name it.
 */
export interface IAnchorTarget {
  cellId: string;
  outputIndex: number | null;
  /** A piece of the cell's source (code points), for a thread on selected text. */
  textRange?: ITextRange | null;
}

const BUBBLE_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16" width="12" height="12" aria-hidden="true"><path fill="currentColor" d="M2 2h12a1 1 0 0 1 1 1v8a1 1 0 0 1-1 1H6l-3.5 3V12H2a1 1 0 0 1-1-1V3a1 1 0 0 1 1-1z"/></svg>`;

function badge(
  count: number,
  target: IAnchorTarget,
  open: (target: IAnchorTarget) => void
): HTMLButtonElement {
  const node = el('button', BADGE);
  node.type = 'button';
  // a constant glyph, not data: the count and the ids go in as text and attributes
  node.innerHTML = BUBBLE_SVG;
  node.appendChild(el('span', 'mutirao-CommentBadgeCount', String(count)));
  node.dataset.count = String(count);
  node.dataset.cellId = target.cellId;
  if (target.outputIndex !== null) {
    node.dataset.outputIndex = String(target.outputIndex);
    node.classList.add('mutirao-mod-output');
  }
  node.title = `${count} comment thread${count === 1 ? '' : 's'}`;
  node.addEventListener('click', event => {
    event.preventDefault();
    event.stopPropagation();
    open(target);
  });
  return node;
}

/**
 * Keeps the badges of one notebook in step with its threads and its cells.
 */
export class CellBadges {
  constructor(
    private _panel: NotebookPanel,
    private _threads: NotebookThreads,
    private _open: (target: IAnchorTarget) => void
  ) {
    _threads.changed.connect(this._schedule, this);
    _panel.content.model?.contentChanged.connect(this._schedule, this);
    _panel.content.model?.cells.changed.connect(this._schedule, this);
    this._schedule();
  }

  dispose(): void {
    window.clearTimeout(this._timer);
    this._threads.changed.disconnect(this._schedule, this);
    this._panel.content.model?.contentChanged.disconnect(this._schedule, this);
    this._panel.content.model?.cells.changed.disconnect(this._schedule, this);
  }

  /**
   * Redraw every badge now.
   */
  update(): void {
    const counts = countByCell(this._threads.threads.filter(t => !t.resolved));
    const all = countByCell(this._threads.threads);
    const ranges = new Map<string, IThread[]>();
    for (const t of this._threads.threads) {
      if (t.text_range && !t.resolved && !t.outdated) {
        ranges.set(t.cell_id, [...(ranges.get(t.cell_id) ?? []), t]);
      }
    }
    for (const cell of this._panel.content.widgets) {
      const id = cell.model.id;
      this._updateCell(cell, id, counts.get(id), all.get(id));
      // open threads on a piece of the source mark that piece in the editor
      markRanges(cell, ranges.get(id) ?? []);
    }
  }

  private _updateCell(
    cell: Cell,
    cellId: string,
    open: IAnchorCounts | undefined,
    any: IAnchorCounts | undefined
  ): void {
    for (const old of Array.from(cell.node.querySelectorAll(`.${BADGE}`))) {
      old.remove();
    }
    const outputs =
      cell instanceof CodeCell ? cell.outputArea.widgets : ([] as never[]);
    // badges count open threads; a cell whose threads are all resolved gets a dimmed one
    const place = (
      n: number,
      total: number,
      target: IAnchorTarget,
      host: HTMLElement
    ) => {
      if (total === 0) {
        return;
      }
      const b = badge(n > 0 ? n : total, target, this._open);
      b.classList.toggle('mutirao-mod-resolved', n === 0);
      host.appendChild(b);
    };
    const cellTotal =
      (any?.cell ?? 0) +
      [...(any?.outputs.entries() ?? [])]
        .filter(([i]) => i >= outputs.length)
        .reduce((a, [, n]) => a + n, 0);
    const cellOpen =
      (open?.cell ?? 0) +
      [...(open?.outputs.entries() ?? [])]
        .filter(([i]) => i >= outputs.length)
        .reduce((a, [, n]) => a + n, 0);
    place(cellOpen, cellTotal, { cellId, outputIndex: null }, cell.node);
    outputs.forEach((child, i) => {
      place(
        open?.outputs.get(i) ?? 0,
        any?.outputs.get(i) ?? 0,
        { cellId, outputIndex: i },
        child.node
      );
    });
  }

  private _schedule(): void {
    window.clearTimeout(this._timer);
    // outputs render after the model changes; let them land first
    this._timer = window.setTimeout(() => this.update(), 50);
  }

  private _timer: number | undefined;
}
