/**
 * Merges with conflicts: the list of conflicted files (with "Show conflict" and "Abort merge")
 * and the conflict view, nbdime's notebook merge widget built from the base, local and remote
 * sides and the server's merge decisions (a three-column display for text files). The view is
 * for reading: the user resolves by editing the file and committing it. Names and paths are
 * rendered as text only.
 */
import type { CodeEditor } from '@jupyterlab/codeeditor';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Panel, Widget } from '@lumino/widgets';
import { NotebookMergeModel } from 'nbdime/lib/merge/model';
import { NotebookMergeWidget } from 'nbdime/lib/merge/widget';

import * as api from './api';
import { describeError } from './people';

function el(tag: string, className: string, text?: string): HTMLElement {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

function button(
  className: string,
  label: string,
  run: () => unknown
): HTMLButtonElement {
  const node = document.createElement('button');
  node.className = `jp-Button jp-mod-styled ${className}`;
  node.textContent = label;
  node.onclick = () => void run();
  return node;
}

/**
 * The conflicted files of a merge in progress, each with "Show conflict", and "Abort merge".
 */
export class ConflictsPanel extends Widget {
  constructor(options: ConflictsPanel.IOptions) {
    super();
    this._options = options;
    this.addClass('mutirao-ConflictsPanel');
    this.title.label = 'Merge conflicts';
    this.title.caption = `Merge conflicts in ${options.repo || 'the home repository'}`;
    this.title.closable = true;
    const heading = el(
      'h2',
      'mutirao-heading',
      options.branch
        ? `Merging ${options.branch}: conflicts`
        : 'Merge conflicts'
    );
    const hint = el(
      'p',
      'mutirao-ConflictsHint',
      'Resolve a file by editing it and committing it (Commit…), or abort the merge.'
    );
    this._list = el('ul', 'mutirao-ConflictList') as HTMLUListElement;
    this._status = el('div', 'mutirao-ConflictsStatus');
    this._status.setAttribute('role', 'status');
    const toolbar = el('div', 'mutirao-ConflictsToolbar');
    toolbar.append(
      button('mutirao-MergeAbort', 'Abort merge', () => this.abort()),
      button('mutirao-ConflictsRefresh', 'Refresh', () => this.refresh())
    );
    this.node.append(heading, hint, toolbar, this._list, this._status);
  }

  async refresh(): Promise<void> {
    try {
      const status = await api.status(this._options.repo);
      const files = status.files.filter(api.isConflicted);
      this._list.replaceChildren();
      for (const file of files) {
        const item = el('li', 'mutirao-Conflict');
        item.dataset.path = file.path;
        item.append(
          el('span', 'mutirao-ConflictPath', file.path),
          button('mutirao-ConflictShow', 'Show conflict', () =>
            this._options.show(this._options.repo, file.path)
          )
        );
        this._list.appendChild(item);
      }
      this.node.dataset.conflicts = String(files.length);
      if (files.length === 0) {
        this._say('No conflicted files remain.');
      }
    } catch (error) {
      this._say(describeError(error), true);
    }
  }

  async abort(): Promise<void> {
    this._say('Aborting the merge…');
    try {
      await api.mergeAbort(this._options.repo);
    } catch (error) {
      this._say(`Abort failed: ${describeError(error)}`, true);
      return;
    }
    await this.refresh();
    this._say('The merge was aborted; the branch is back where it was.');
    this._options.aborted?.();
  }

  private _say(text: string, error = false): void {
    this._status.textContent = text;
    this._status.classList.toggle('mutirao-error', error);
    this._status.dataset.state = error ? 'error' : 'info';
  }

  private _options: ConflictsPanel.IOptions;
  private _list: HTMLUListElement;
  private _status: HTMLElement;
}

export namespace ConflictsPanel {
  export interface IOptions {
    repo: string;
    /** The branch being merged, for the heading. */
    branch?: string;
    show: (repo: string, path: string) => void;
    aborted?: () => void;
  }
}

/**
 * One conflicted file's three sides: nbdime's merge widget for a notebook, three columns
 * (local, base, remote) for a text file.
 */
export class ConflictView extends Panel {
  constructor(options: ConflictView.IOptions) {
    super();
    this._options = options;
    this.addClass('mutirao-ConflictView');
    this.title.label = `Conflict: ${options.path}`;
    this.title.caption = `Conflict in ${options.path}`;
    this.title.closable = true;
    const header = new Widget({ node: el('div', 'mutirao-ConflictHeader') });
    header.node.append(
      el('span', 'mutirao-ConflictFile', options.path),
      el(
        'span',
        'mutirao-ConflictLegend',
        'Local: the current branch. Remote: the branch being merged.'
      )
    );
    this.addWidget(header);
    this.node.dataset.state = 'loading';
  }

  async load(): Promise<void> {
    try {
      const sides = await api.conflict(this._options.repo, this._options.path);
      if (sides.decisions && sides.local !== null && sides.remote !== null) {
        const base = sides.base ?? {
          cells: [],
          metadata: {},
          nbformat: 4,
          nbformat_minor: 5
        };
        const model = new NotebookMergeModel(base, sides.decisions);
        const widget = new NotebookMergeWidget({
          model,
          rendermime: this._options.rendermime,
          editorFactory: this._options.editorFactory
        });
        widget.addClass('mutirao-NotebookMerge');
        this.addWidget(widget);
        await widget.init();
      } else {
        this.addWidget(textColumns(sides));
      }
      this.node.dataset.state = 'loaded';
    } catch (error) {
      const message = new Widget({
        node: el('div', 'mutirao-error', describeError(error))
      });
      this.addWidget(message);
      this.node.dataset.state = 'error';
    }
  }

  private _options: ConflictView.IOptions;
}

export namespace ConflictView {
  export interface IOptions {
    repo: string;
    path: string;
    rendermime: IRenderMimeRegistry;
    editorFactory: CodeEditor.Factory;
  }
}

function asText(side: unknown): string | null {
  if (side === null || side === undefined) {
    return null;
  }
  return typeof side === 'string' ? side : JSON.stringify(side, null, 1);
}

function textColumns(sides: api.IConflict): Widget {
  const node = el('div', 'mutirao-TextConflict');
  const columns: [string, string, unknown][] = [
    ['local', 'Local (current branch)', sides.local],
    ['base', 'Base', sides.base],
    ['remote', 'Remote (merged branch)', sides.remote]
  ];
  for (const [side, label, content] of columns) {
    const column = el('div', 'mutirao-TextConflictSide');
    column.dataset.side = side;
    const text = asText(content);
    column.append(
      el('div', 'mutirao-TextConflictLabel', label),
      el('pre', 'mutirao-TextConflictText', text ?? '(the file is absent)')
    );
    node.appendChild(column);
  }
  return new Widget({ node });
}
