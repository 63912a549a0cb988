/**
 * Merges with conflicts: the list of conflicted files (with "Show conflict", "Abort merge",
 * and "Commit merge" once none remains) and the conflict view, nbdime's notebook merge widget
 * built from the base, local and remote sides and the server's merge decisions (a
 * three-column display for text files). In the notebook view the user picks sides in the
 * widget and saves the resolution: the merged notebook becomes the working file and its
 * conflict is marked resolved (staged). Names and paths are rendered as text only.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import type { CodeEditor } from '@jupyterlab/codeeditor';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Panel, Widget } from '@lumino/widgets';
import { NotebookMergeModel } from 'nbdime/lib/merge/model';
import { NotebookMergeWidget } from 'nbdime/lib/merge/widget';

import * as api from './api';
import { describeError } from './people';
import { el } from '../dom';
import { StatusBody, StatusLine, button } from './ui';

/**
 * The conflicted files of a merge in progress, each with "Show conflict", and "Abort merge".
 * Once no conflicted file remains and the resolutions are staged, "Commit merge" concludes
 * the merge with a commit that has both branches as parents.
 */
export class ConflictsPanel extends StatusBody {
  constructor(options: ConflictsPanel.IOptions) {
    super('mutirao-ConflictsStatus');
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
      'Resolve a notebook in its conflict view (Save resolution), or a file by editing it ' +
        'and committing it (Commit…); or abort the merge.'
    );
    this._list = el('ul', 'mutirao-ConflictList') as HTMLUListElement;
    const toolbar = el('div', 'mutirao-ConflictsToolbar');
    toolbar.append(
      button('mutirao-MergeAbort', 'Abort merge', () => this.abort()),
      button('mutirao-ConflictsRefresh', 'Refresh', () => this.refresh())
    );
    this._message = el(
      'input',
      'jp-mod-styled mutirao-MergeMessage'
    ) as HTMLInputElement;
    this._message.value = options.branch
      ? `Merge branch '${options.branch}'`
      : 'Merge';
    this._message.setAttribute('aria-label', 'Merge commit message');
    this._commit = el('div', 'mutirao-MergeCommit');
    this._commit.hidden = true;
    this._commit.append(
      this._message,
      button('mutirao-MergeCommitButton', 'Commit merge', () => this.commit())
    );
    this.node.append(
      heading,
      hint,
      toolbar,
      this._list,
      this._commit,
      this.statusNode
    );
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
            this._options.show(this._options.repo, file.path, () =>
              this.refresh()
            )
          )
        );
        this._list.appendChild(item);
      }
      this.node.dataset.conflicts = String(files.length);
      // a merge in progress, its resolutions staged and no conflict left: it can be committed
      const staged = status.files.some(f => f.index !== ' ' && f.index !== '?');
      const merging = status.merge_head !== null;
      this._commit.hidden = files.length > 0 || !staged || !merging;
      if (files.length === 0) {
        this.say(
          !merging
            ? 'No merge is in progress.'
            : staged
              ? 'No conflicted files remain: commit the merge to finish it.'
              : 'No conflicted files remain.'
        );
      }
    } catch (error) {
      this.say(describeError(error), true);
    }
  }

  async abort(): Promise<void> {
    this.say('Aborting the merge…');
    const done = await this.attempt(
      'The merge was aborted; the branch is back where it was.',
      () => api.mergeAbort(this._options.repo),
      'Abort failed: '
    );
    if (done) {
      this._options.changed?.();
    }
  }

  /**
   * Commit what is staged: with the merge in progress, a commit with both parents.
   */
  async commit(): Promise<void> {
    this.say('Committing the merge…');
    let id = '';
    const done = await this.attempt('', async () => {
      id = (await api.commit(this._options.repo, [], this._message.value)).id;
    });
    if (done) {
      this._commit.hidden = true;
      this.say(`Committed the merge as ${id.slice(0, 8)}.`);
      this.node.dataset.committed = id;
      this._options.changed?.();
    }
  }

  private _options: ConflictsPanel.IOptions;
  private _list: HTMLUListElement;
  private _commit: HTMLElement;
  private _message: HTMLInputElement;
}

export namespace ConflictsPanel {
  export interface IOptions {
    repo: string;
    /** The branch being merged, for the heading and the merge commit's message. */
    branch?: string;
    /** Open one file's conflict view; `resolved` is called once it is resolved there. */
    show: (repo: string, path: string, resolved: () => void) => void;
    /** The merge was aborted or committed. */
    changed?: () => void;
  }
}

const EMPTY_NOTEBOOK = {
  cells: [],
  metadata: {},
  nbformat: 4,
  nbformat_minor: 5
};

/**
 * One conflicted file's three sides: nbdime's merge widget for a notebook, with "Save
 * resolution"; three columns (local, base, remote) for a text file.
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
    this._status = new StatusLine(
      'mutirao-BranchStatus mutirao-ConflictViewStatus'
    );
    this.node.dataset.state = 'loading';
  }

  async load(): Promise<void> {
    try {
      const sides = await api.conflict(this._options.repo, this._options.path);
      if (sides.decisions && sides.local !== null && sides.remote !== null) {
        const model = new NotebookMergeModel(
          sides.base ?? EMPTY_NOTEBOOK,
          sides.decisions
        );
        const widget = new NotebookMergeWidget({
          model,
          rendermime: this._options.rendermime,
          editorFactory: this._options.editorFactory
        });
        widget.addClass('mutirao-NotebookMerge');
        this.addWidget(this._toolbar());
        this.addWidget(widget);
        await widget.init();
        this._model = model;
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

  /**
   * Write the notebook as merged in nbdime's widget (the user's choices) and mark its
   * conflict resolved. Conflicts not marked resolved in the widget are named in a warning
   * first; saving anyway keeps what the merged version shows for them.
   */
  async save(): Promise<void> {
    const model = this._model;
    if (!model) {
      return;
    }
    const undecided = model.conflicts.length;
    if (undecided > 0) {
      const answer = await showDialog({
        title: 'Unresolved conflicts',
        body: new Widget({ node: unresolvedWarning(undecided) }),
        buttons: [
          Dialog.cancelButton(),
          Dialog.warnButton({ label: 'Save anyway' })
        ]
      });
      if (!answer.button.accept) {
        this._say('Not saved: conflicts remain.');
        return;
      }
    }
    this._say('Saving the resolution…');
    try {
      const result = await api.resolve(
        this._options.repo,
        this._options.path,
        model.serialize()
      );
      const n = result.conflicts.length;
      this._say(
        `Saved: ${result.path} is resolved and staged. ` +
          (n === 0
            ? 'No conflicted files remain: commit the merge to finish it.'
            : `${n} conflicted file${n === 1 ? '' : 's'} remain.`)
      );
      this.node.dataset.state = 'resolved';
      this._save?.remove();
      this._options.resolved?.();
    } catch (error) {
      this._say(`Not saved: ${describeError(error)}`, true);
    }
  }

  private _toolbar(): Widget {
    const toolbar = new Widget({
      node: el('div', 'mutirao-ConflictViewToolbar')
    });
    this._save = button('mutirao-ConflictSave', 'Save resolution', () =>
      this.save()
    );
    toolbar.node.append(
      this._save,
      el(
        'span',
        'mutirao-ConflictLegend',
        'Pick a side with ➭ in each conflicted cell, mark it resolved with ⚠ beside ' +
          'the merged version, then save.'
      ),
      this._status.node
    );
    return toolbar;
  }

  private _say(text: string, error = false): void {
    this._status.say(text, error);
  }

  private _options: ConflictView.IOptions;
  private _model: NotebookMergeModel | null = null;
  private _save: HTMLButtonElement | null = null;
  private _status: StatusLine;
}

export namespace ConflictView {
  export interface IOptions {
    repo: string;
    path: string;
    rendermime: IRenderMimeRegistry;
    editorFactory: CodeEditor.Factory;
    /** The file's conflict was resolved and staged. */
    resolved?: () => void;
  }
}

function unresolvedWarning(n: number): HTMLElement {
  const body = el('div', 'mutirao-UnresolvedWarning');
  body.append(
    el(
      'p',
      '',
      `${n} conflict${n === 1 ? ' is' : 's are'} not marked resolved in this notebook.`
    ),
    el(
      'p',
      '',
      'Saving anyway keeps, for each of them, what the merged version shows now: the ' +
        'base version where no side was picked. To choose, pick a side with ➭ and click ' +
        '⚠ beside the merged version.'
    )
  );
  return body;
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
