/**
 * The diff viewer: two versions of a file (or a version and the working copy), rendered by
 * nbdime's own widgets. Notebooks use nbdime's NotebookDiffWidget on the server's diff (nbdime's
 * format); text files use nbdime's merge view. "Side by side" is nbdime's layout; "unified"
 * stacks each changed cell's old and new versions, and shows text files as a unified diff.
 */
import type { CodeEditor } from '@jupyterlab/codeeditor';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Panel, Widget } from '@lumino/widgets';
import { createNbdimeMergeView } from 'nbdime/lib/common/mergeview';
import type { IDiffEntry } from 'nbdime/lib/diff/diffentries';
import {
  NotebookDiffModel,
  createPatchStringDiffModel
} from 'nbdime/lib/diff/model';
import { NotebookDiffWidget } from 'nbdime/lib/diff/widget';

import * as api from './api';
import { describeError } from './people';

/**
 * One side of a diff: a version (commit or snapshot id, or `WORKING`) and how to call it.
 */
export interface IVersionRef {
  rev: string;
  label: string;
}

export type DiffMode = 'side-by-side' | 'unified';

const UNIFIED_CLASS = 'mutirao-mod-unified';

/**
 * nbdime's diff entries for a text, from a unified diff's hunks: each run of removed and added
 * lines becomes an `addrange` and a `removerange` at the base line where it starts (nbdime puts
 * the addition first).
 */
export function unifiedToEntries(unified: string[]): IDiffEntry[] {
  const entries: any[] = [];
  let base = 0;
  let added: string[] = [];
  let removed = 0;
  let start = 0;
  let last: '+' | '-' | ' ' | null = null;
  const flush = () => {
    if (added.length > 0) {
      entries.push({ op: 'addrange', key: start, valuelist: added });
    }
    if (removed > 0) {
      entries.push({ op: 'removerange', key: start, length: removed });
    }
    added = [];
    removed = 0;
  };
  for (const line of unified) {
    const hunk = /^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@/.exec(line);
    if (hunk) {
      flush();
      const count = hunk[2] === undefined ? 1 : Number(hunk[2]);
      base = count === 0 ? Number(hunk[1]) : Number(hunk[1]) - 1;
      last = null;
      continue;
    }
    if (line.startsWith('---') || line.startsWith('+++')) {
      continue;
    }
    const kind = line[0];
    if (kind === '\\') {
      // "\ No newline at end of file": the line before has no line ending
      if (last === '+' && added.length > 0) {
        added[added.length - 1] = added[added.length - 1].replace(/\n$/, '');
      }
      continue;
    }
    if (kind === ' ') {
      flush();
      base += 1;
      last = ' ';
    } else if (kind === '-') {
      if (added.length === 0 && removed === 0) {
        start = base;
      }
      removed += 1;
      base += 1;
      last = '-';
    } else if (kind === '+') {
      if (added.length === 0 && removed === 0) {
        start = base;
      }
      added.push(line.slice(1) + '\n');
      last = '+';
    }
  }
  flush();
  return entries as IDiffEntry[];
}

/**
 * The diff between two versions of one file of a repository.
 */
export class DiffView extends Panel {
  constructor(options: DiffView.IOptions) {
    super();
    this.addClass('mutirao-DiffView');
    this._options = options;
    this.node.dataset.path = options.path;
    this.title.label = `${basename(options.path)} (${options.from.label} → ${options.to.label})`;
    this.title.caption = `Diff of ${options.path}: ${options.from.label} → ${options.to.label}`;
    this.title.closable = true;

    const header = new Widget();
    header.addClass('mutirao-DiffHeader');
    const from = document.createElement('span');
    from.className = 'mutirao-DiffFrom';
    from.textContent = options.from.label;
    const arrow = document.createElement('span');
    arrow.textContent = ' → ';
    const to = document.createElement('span');
    to.className = 'mutirao-DiffTo';
    to.textContent = options.to.label;
    const name = document.createElement('span');
    name.className = 'mutirao-DiffPath';
    name.textContent = options.path;
    const modes = document.createElement('span');
    modes.className = 'mutirao-DiffModes';
    for (const [mode, label] of [
      ['side-by-side', 'Side by side'],
      ['unified', 'Unified']
    ] as [DiffMode, string][]) {
      const button = document.createElement('button');
      button.className = 'jp-Button jp-mod-styled mutirao-DiffMode';
      button.dataset.mode = mode;
      button.textContent = label;
      button.onclick = () => this.setMode(mode);
      modes.appendChild(button);
    }
    header.node.append(name, from, arrow, to, modes);
    this.addWidget(header);

    this._body = new Panel();
    this._body.addClass('mutirao-DiffBody');
    this._body.addClass('nbdime-root');
    this._body.node.tabIndex = -1;
    this.addWidget(this._body);
    this.setMode(options.mode ?? 'side-by-side');
  }

  get mode(): DiffMode {
    return this._mode;
  }

  /**
   * Show the diff side by side or unified.
   */
  setMode(mode: DiffMode): void {
    this._mode = mode;
    this.node.dataset.mode = mode;
    this._body.toggleClass(UNIFIED_CLASS, mode === 'unified');
    for (const button of this.node.querySelectorAll<HTMLButtonElement>(
      '.mutirao-DiffMode'
    )) {
      button.classList.toggle('jp-mod-accept', button.dataset.mode === mode);
      button.setAttribute('aria-pressed', String(button.dataset.mode === mode));
    }
    if (this._text) {
      this._text.mergeView.setHidden(mode === 'unified');
      this._text.unified.setHidden(mode !== 'unified');
    }
  }

  /**
   * Fetch the diff and render it; failures show the server's message in the view.
   */
  async load(): Promise<void> {
    const { repo, path, from, to } = this._options;
    this.node.dataset.state = 'loading';
    try {
      const diff = await api.diff(repo, path, from.rev, to.rev);
      if (this.isDisposed) {
        return;
      }
      if (diff.kind === 'notebook') {
        await this._renderNotebook(diff);
      } else {
        await this._renderText(diff);
      }
      this.node.dataset.state = 'loaded';
    } catch (error) {
      if (this.isDisposed) {
        return;
      }
      const message = new Widget();
      message.addClass('mutirao-DiffError');
      message.node.textContent = `No diff: ${describeError(error)}`;
      this._body.addWidget(message);
      this.node.dataset.state = 'error';
    }
  }

  private async _renderNotebook(diff: api.INotebookDiff): Promise<void> {
    const model = new NotebookDiffModel(diff.base, diff.diff as IDiffEntry[]);
    const widget = new NotebookDiffWidget({
      model,
      rendermime: this._options.rendermime,
      editorFactory: this._options.editorFactory
    });
    this._body.addWidget(widget);
    await widget.init();
    if (diff.diff.length === 0) {
      this._body.addWidget(notice('The two versions are identical.'));
    }
  }

  private async _renderText(diff: api.ITextDiff): Promise<void> {
    const { repo, path, from } = this._options;
    // nbdime's merge view needs the old text itself; the diff carries only its hunks
    let base = '';
    if (/^0+$/.test(diff.from.blob)) {
      base = '';
    } else if (from.rev === api.WORKING) {
      base = await this._options.readWorking(path);
    } else {
      const shown = await api.show(repo, from.rev, path);
      base = shown.format === 'text' ? String(shown.content) : '';
    }
    const model = createPatchStringDiffModel(
      base,
      unifiedToEntries(diff.unified)
    );
    const mergeView = createNbdimeMergeView({
      remote: model,
      factory: this._options.editorFactory,
      readOnly: true
    });
    mergeView.addClass('mutirao-TextMergeView');
    const unified = new Widget({ node: document.createElement('pre') });
    unified.addClass('mutirao-UnifiedText');
    for (const line of diff.unified) {
      const row = document.createElement('div');
      row.className =
        line.startsWith('+') && !line.startsWith('+++')
          ? 'mutirao-mod-added'
          : line.startsWith('-') && !line.startsWith('---')
            ? 'mutirao-mod-removed'
            : line.startsWith('@@')
              ? 'mutirao-mod-hunk'
              : '';
      row.textContent = line;
      unified.node.appendChild(row);
    }
    this._body.addWidget(mergeView);
    this._body.addWidget(unified);
    this._text = { mergeView, unified };
    if (diff.unified.length === 0) {
      this._body.addWidget(notice('The two versions are identical.'));
    }
    this.setMode(this._mode);
  }

  private _options: DiffView.IOptions;
  private _body: Panel;
  private _mode: DiffMode = 'side-by-side';
  private _text: { mergeView: Widget; unified: Widget } | null = null;
}

export namespace DiffView {
  export interface IOptions {
    repo: string;
    /** The file's path inside the repository. */
    path: string;
    from: IVersionRef;
    to: IVersionRef;
    mode?: DiffMode;
    rendermime: IRenderMimeRegistry;
    editorFactory: CodeEditor.Factory;
    /** The text of a file's working copy (a repository-relative path). */
    readWorking: (path: string) => Promise<string>;
  }
}

function notice(text: string): Widget {
  const widget = new Widget();
  widget.addClass('mutirao-DiffNotice');
  widget.node.textContent = text;
  return widget;
}

export function basename(path: string): string {
  return path.split('/').pop() || path;
}
