/**
 * The History panel: the versions of the current file (commits and snapshots, newest first),
 * with who made them and when, and what can be done with them: compare any two (or one with
 * the working copy), restore, promote a snapshot, commit, switch branches, pull and push.
 */
import { Dialog, InputDialog, showDialog } from '@jupyterlab/apputils';
import { LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { el } from '../dom';
import { MutiraoAPIError } from '../handler';
import * as api from './api';
import { basename, IVersionRef } from './diffview';
import { avatar, describeError, when } from './people';

export const HISTORY_PANEL_ID = 'mutirao-history';
const PAGE = 25;

const historySvgStr = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <path class="jp-icon3" fill="#616161" d="M13 3a9 9 0 0 0-9 9H1l3.9 3.9.1.1L9 12H6a7 7 0 1 1 2.05 4.95l-1.42 1.42A9 9 0 1 0 13 3zm-1 5v5l4.25 2.52.77-1.28-3.52-2.09V8H12z"/>
</svg>`;

export const historyIcon = new LabIcon({
  name: 'mutirao-lab:history',
  svgstr: historySvgStr
});

/**
 * One row of the panel: the working copy, a commit or a snapshot.
 */
interface IEntry {
  kind: 'working' | 'commit' | 'snapshot';
  rev: string;
  commit: api.ICommit | null;
}

export function shortId(id: string): string {
  return id.slice(0, 7);
}

export function labelOf(entry: IEntry): string {
  if (entry.kind === 'working') {
    return 'working copy';
  }
  return entry.kind === 'snapshot'
    ? `snapshot ${shortId(entry.rev)}`
    : shortId(entry.rev);
}

/**
 * What the panel asks of the rest of the extension.
 */
export interface IHistoryActions {
  openDiff(
    repo: string,
    path: string,
    from: IVersionRef,
    to: IVersionRef
  ): void;
  commit(location: api.ILocation, rootPath: string): Promise<boolean>;
  branches(repo: string): Promise<void>;
  credentials(): Promise<void>;
  /**
   * Show a folder in the file browser (after a clone).
   */
  browse(path: string): Promise<void>;
}

export class HistoryPanel extends Widget {
  constructor(actions: IHistoryActions) {
    super();
    this._actions = actions;
    this.id = HISTORY_PANEL_ID;
    this.addClass('mutirao-HistoryPanel');
    this.title.icon = historyIcon;
    this.title.caption = 'History';

    const heading = document.createElement('h2');
    heading.className = 'mutirao-heading';
    heading.textContent = 'History';
    this._fileNode = el('div', 'mutirao-HistoryFile');
    this._branchNode = el('div', 'mutirao-HistoryBranch');

    const toolbar = el('div', 'mutirao-HistoryToolbar');
    const actionsList: [string, string, () => Promise<void>][] = [
      ['commit', 'Commit…', () => this.commitDialog()],
      ['branches', 'Branches…', () => this.branchDialog()],
      ['credentials', 'Credentials…', () => this._actions.credentials()],
      ['pull', 'Pull', () => this.remote('pull')],
      ['push', 'Push', () => this.remote('push')],
      ['refresh', 'Refresh', () => this.refresh()]
    ];
    for (const [action, label, run] of actionsList) {
      const button = document.createElement('button');
      button.className =
        'jp-Button jp-mod-styled mutirao-HistoryButton mutirao-HistoryAction';
      button.dataset.action = action;
      button.textContent = label;
      button.onclick = () => void run();
      toolbar.appendChild(button);
    }

    this._progress = document.createElement('progress');
    this._progress.className = 'mutirao-HistoryProgress';
    this._progress.hidden = true;
    this._status = el('div', 'mutirao-HistoryStatus');
    this._status.setAttribute('role', 'status');

    const compareRow = el('div', 'mutirao-HistoryCompareRow');
    this._compare = document.createElement('button');
    this._compare.className = 'jp-Button jp-mod-styled mutirao-HistoryCompare';
    this._compare.textContent = 'Compare selected';
    this._compare.disabled = true;
    this._compare.onclick = () => this.compareSelected();
    const hint = el('span', 'mutirao-HistoryHint');
    hint.textContent = 'Tick two versions to compare them.';
    compareRow.append(this._compare, hint);

    this._empty = this._emptyState();
    this._list = el('ul', 'mutirao-HistoryList') as HTMLUListElement;
    this._more = document.createElement('button');
    this._more.className = 'jp-Button jp-mod-styled mutirao-HistoryMore';
    this._more.textContent = 'Load more';
    this._more.hidden = true;
    this._more.onclick = () => void this.loadMore();

    this.node.append(
      heading,
      this._fileNode,
      this._branchNode,
      toolbar,
      this._progress,
      this._status,
      compareRow,
      this._empty,
      this._list,
      this._more
    );
    this._render();
  }

  /**
   * The file shown (a server-root-relative path), or null.
   */
  get rootPath(): string | null {
    return this._rootPath;
  }

  get location(): api.ILocation | null {
    return this._location;
  }

  /**
   * Show the history of another file.
   */
  async setFile(rootPath: string | null): Promise<void> {
    if (rootPath === this._rootPath) {
      return;
    }
    this._rootPath = rootPath;
    await this.refresh();
  }

  /**
   * Reload the file's history from its first page.
   */
  async refresh(): Promise<void> {
    const rootPath = this._rootPath;
    const generation = ++this._generation;
    this._location = null;
    this._commits = [];
    this._snapshots = [];
    this._moreCommits = false;
    this._moreSnapshots = false;
    this._selected = [];
    this._branch = null;
    this._outside = false;
    this._message(null);
    if (rootPath === null) {
      this._render();
      return;
    }
    this.node.dataset.state = 'loading';
    try {
      const location = await api.locate(rootPath);
      if (generation !== this._generation) {
        return;
      }
      this._location = location;
      const [, , status] = await Promise.all([
        this._loadCommits(0),
        this._loadSnapshots(0),
        api.status(location.repo)
      ]);
      if (generation !== this._generation) {
        return;
      }
      this._branch = status.branch;
    } catch (error) {
      if (generation !== this._generation) {
        return;
      }
      // a file outside every repository is an ordinary state, not a failure
      const outside =
        this._location === null &&
        error instanceof MutiraoAPIError &&
        error.status === 404;
      this._outside = outside;
      this._message(outside ? null : describeError(error), !outside);
    }
    this._render();
    this.node.dataset.state = 'loaded';
  }

  /**
   * The next page of commits and snapshots.
   */
  async loadMore(): Promise<void> {
    if (!this._location) {
      return;
    }
    this._more.disabled = true;
    try {
      await Promise.all([
        this._moreCommits
          ? this._loadCommits(this._commits.length)
          : Promise.resolve(),
        this._moreSnapshots
          ? this._loadSnapshots(this._snapshots.length)
          : Promise.resolve()
      ]);
    } catch (error) {
      this._message(describeError(error), true);
    }
    this._more.disabled = false;
    this._render();
  }

  /**
   * Open the diff between the two ticked versions, older first.
   */
  compareSelected(): void {
    if (!this._location || this._selected.length !== 2) {
      return;
    }
    const order = this._entries();
    const [a, b] = this._selected
      .map(rev => order.find(e => e.rev === rev)!)
      .sort((x, y) => order.indexOf(y) - order.indexOf(x));
    this._actions.openDiff(
      this._location.repo,
      this._location.path,
      { rev: a.rev, label: labelOf(a) },
      { rev: b.rev, label: labelOf(b) }
    );
  }

  async commitDialog(): Promise<void> {
    if (!this._location || !this._rootPath) {
      this._message('Open a file that is in a git repository first.', true);
      return;
    }
    try {
      if (await this._actions.commit(this._location, this._rootPath)) {
        this._message('Committed.');
        await this._reloadKeepingMessage();
      }
    } catch (error) {
      this._message(describeError(error), true);
    }
  }

  async branchDialog(): Promise<void> {
    if (!this._location) {
      this._message('Open a file that is in a git repository first.', true);
      return;
    }
    await this._actions.branches(this._location.repo);
    await this._reloadKeepingMessage();
  }

  /**
   * Pull or push the current branch, showing progress while git works and the server's
   * message when it fails.
   */
  async remote(verb: 'pull' | 'push'): Promise<void> {
    const location = this._location;
    if (!location) {
      this._message('Open a file that is in a git repository first.', true);
      return;
    }
    const doing =
      verb === 'pull' ? 'Pulling from origin…' : 'Pushing to origin…';
    this._busy(doing);
    try {
      if (verb === 'pull') {
        const result = await api.pull(location.repo);
        const n = result.changed.length;
        this._message(
          result.before === result.after
            ? 'Already up to date.'
            : `Pulled: ${n} file${n === 1 ? '' : 's'} changed.`
        );
      } else {
        const result = await api.push(location.repo);
        this._message(
          `Pushed ${result.branch ?? 'the branch'} to ${result.remote}.`
        );
      }
      await this._reloadKeepingMessage();
    } catch (error) {
      this._message(
        `${verb === 'pull' ? 'Pull' : 'Push'} failed: ${describeError(error)}`,
        true
      );
    } finally {
      this._progress.hidden = true;
      this.node.dataset.busy = 'false';
    }
  }

  /**
   * Make the server's folder a repository (the default `.gitignore`, a first commit by the
   * current user), after saying what will happen.
   */
  async initialize(): Promise<void> {
    const answer = await showDialog({
      title: 'Initialize a repository?',
      body: "This server's folder becomes a git repository: a .gitignore that keeps out secrets and runtime files, and a first commit of it by you. Your files stay as they are; commit them when you like.",
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Initialize' })]
    });
    if (!answer.button.accept) {
      return;
    }
    this._busy('Initializing the repository…');
    try {
      const made = await api.init('');
      this._message(
        `Initialized a repository on ${made.branch}, first commit by ${made.author.name}.`
      );
      await this._reloadKeepingMessage();
    } catch (error) {
      this._message(`Initialize failed: ${describeError(error)}`, true);
    } finally {
      this._progress.hidden = true;
      this.node.dataset.busy = 'false';
    }
  }

  /**
   * Ask for an https URL and a folder, and clone the repository there.
   */
  async clone(): Promise<void> {
    const body = new CloneBody();
    const answer = await showDialog({
      title: 'Clone a repository',
      body,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Clone' })],
      focusNodeSelector: '.mutirao-CloneUrl'
    });
    if (!answer.button.accept || !answer.value) {
      return;
    }
    const { url, folder } = answer.value;
    this._busy(`Cloning into ${folder}…`);
    try {
      const made = await api.clone(url, folder);
      this._message(
        `Cloned into ${made.repo}. Open a file in it to see its history.`
      );
      await this._actions.browse(made.repo);
    } catch (error) {
      this._message(`Clone failed: ${describeError(error)}`, true);
    } finally {
      this._progress.hidden = true;
      this.node.dataset.busy = 'false';
    }
  }

  private _emptyState(): HTMLElement {
    const node = el('div', 'mutirao-HistoryEmpty');
    const text = el('p', 'mutirao-HistoryEmptyText');
    text.textContent =
      'This file is not in a git repository. Initialize one here, or clone one into a new folder.';
    const init = document.createElement('button');
    init.className =
      'jp-Button jp-mod-styled jp-mod-accept mutirao-HistoryInit';
    init.textContent = 'Initialize repository';
    init.onclick = () => void this.initialize();
    const clone = document.createElement('button');
    clone.className = 'jp-Button jp-mod-styled mutirao-HistoryClone';
    clone.textContent = 'Clone…';
    clone.onclick = () => void this.clone();
    node.append(text, init, clone);
    return node;
  }

  private async _restore(entry: IEntry): Promise<void> {
    const location = this._location!;
    const answer = await showDialog({
      title: 'Restore this version?',
      body: `${location.path} will be replaced by ${labelOf(entry)} for everyone who has it open. The current content stays in the history if it was committed or snapshotted.`,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Restore' })]
    });
    if (!answer.button.accept) {
      return;
    }
    this._busy(`Restoring ${labelOf(entry)}…`);
    try {
      await api.restore(location.repo, location.path, entry.rev);
      this._message(`Restored ${location.path} to ${labelOf(entry)}.`);
      await this._reloadKeepingMessage();
    } catch (error) {
      this._message(`Restore failed: ${describeError(error)}`, true);
    } finally {
      this._progress.hidden = true;
    }
  }

  private async _promote(entry: IEntry): Promise<void> {
    const location = this._location!;
    const result = await InputDialog.getText({
      title: `Commit ${labelOf(entry)}`,
      label: 'Commit message',
      text: entry.commit?.message.split('\n')[0] ?? '',
      okLabel: 'Commit'
    });
    if (!result.button.accept || result.value === null) {
      return;
    }
    try {
      const made = await api.promote(
        location.repo,
        entry.rev,
        location.path,
        result.value
      );
      this._message(`Committed ${labelOf(entry)} as ${shortId(made.id)}.`);
      await this._reloadKeepingMessage();
    } catch (error) {
      this._message(`Commit failed: ${describeError(error)}`, true);
    }
  }

  private async _reloadKeepingMessage(): Promise<void> {
    const text = this._status.textContent;
    const isError = this._status.classList.contains('mutirao-error');
    await this.refresh();
    if (text && !this._status.textContent) {
      this._message(text, isError);
    }
  }

  private async _loadCommits(skip: number): Promise<void> {
    const location = this._location!;
    const page = await api.log(location.repo, location.path, skip, PAGE);
    this._commits.push(...page.commits);
    this._moreCommits = page.more;
  }

  private async _loadSnapshots(skip: number): Promise<void> {
    const location = this._location!;
    const page = await api.snapshots(location.repo, location.path, skip, PAGE);
    this._snapshots.push(...page.snapshots);
    this._moreSnapshots = page.more;
  }

  private _busy(text: string): void {
    this.node.dataset.busy = 'true';
    this._progress.hidden = false;
    this._message(text);
  }

  private _message(text: string | null, error = false): void {
    this._status.textContent = text ?? '';
    this._status.classList.toggle('mutirao-error', error && !!text);
    this._status.dataset.state = text ? (error ? 'error' : 'info') : 'empty';
  }

  private _entries(): IEntry[] {
    const versions: IEntry[] = [
      ...this._commits.map(c => ({
        kind: 'commit' as const,
        rev: c.id,
        commit: c
      })),
      ...this._snapshots.map(c => ({
        kind: 'snapshot' as const,
        rev: c.id,
        commit: c
      }))
    ].sort(
      (a, b) =>
        b.commit!.committed_at - a.commit!.committed_at ||
        (a.kind === b.kind ? 0 : a.kind === 'commit' ? -1 : 1)
    );
    return [{ kind: 'working', rev: api.WORKING, commit: null }, ...versions];
  }

  private _render(): void {
    this._fileNode.textContent = this._rootPath
      ? basename(this._rootPath)
      : 'Open a file to see its history.';
    this._fileNode.title = this._rootPath ?? '';
    this._branchNode.textContent = this._branch
      ? `Branch: ${this._branch}`
      : '';
    this._list.replaceChildren();
    this._more.hidden = !(this._moreCommits || this._moreSnapshots);
    this._compare.disabled = this._selected.length !== 2;
    this._empty.hidden = !this._outside;
    this.node.dataset.repository = this._location
      ? 'yes'
      : this._outside
        ? 'no'
        : 'unknown';
    if (!this._location) {
      return;
    }
    for (const entry of this._entries()) {
      this._list.appendChild(this._row(entry));
    }
  }

  private _row(entry: IEntry): HTMLLIElement {
    const li = document.createElement('li');
    li.className = 'mutirao-HistoryEntry';
    li.dataset.kind = entry.kind;
    li.dataset.rev = entry.rev;

    const select = document.createElement('input');
    select.type = 'checkbox';
    select.className = 'mutirao-HistorySelect';
    select.title = 'Select to compare';
    select.checked = this._selected.includes(entry.rev);
    select.onchange = () => {
      this._selected = this._selected.filter(r => r !== entry.rev);
      if (select.checked) {
        this._selected.push(entry.rev);
        if (this._selected.length > 2) {
          this._selected.shift();
        }
      }
      for (const box of this._list.querySelectorAll<HTMLInputElement>(
        '.mutirao-HistorySelect'
      )) {
        const rev = box.closest<HTMLElement>('.mutirao-HistoryEntry')!.dataset
          .rev!;
        box.checked = this._selected.includes(rev);
      }
      this._compare.disabled = this._selected.length !== 2;
    };
    li.appendChild(select);

    const main = el('div', 'mutirao-HistoryMain');
    const top = el('div', 'mutirao-HistoryTop');
    const kind = el('span', 'mutirao-HistoryKind');
    kind.textContent = labelOf(entry);
    if (entry.commit) {
      const c = entry.commit;
      top.appendChild(avatar(c.author));
      const author = el('span', 'mutirao-HistoryAuthor');
      author.textContent = c.author.name;
      author.title = c.author.email;
      const date = el('span', 'mutirao-HistoryDate');
      date.textContent = when(c.committed_at);
      date.title = new Date(c.committed_at * 1000).toLocaleString();
      top.append(author, date);
      main.append(top);
      const message = el('div', 'mutirao-HistoryMessage');
      message.textContent = c.message.split('\n')[0];
      message.title = c.message;
      main.append(message);
      if (entry.kind === 'snapshot' && c.edited_by && c.edited_by.length > 0) {
        const editors = el('div', 'mutirao-HistoryEditors');
        editors.textContent =
          'Edited by ' + c.edited_by.map(p => p.name).join(', ');
        main.append(editors);
      }
    } else {
      const name = el('span', 'mutirao-HistoryAuthor');
      name.textContent = 'Working copy';
      top.append(name);
      main.append(top);
      const message = el('div', 'mutirao-HistoryMessage');
      message.textContent = 'The file as saved now';
      main.append(message);
    }
    const actions = el('div', 'mutirao-HistoryEntryActions');
    if (entry.kind !== 'working') {
      actions.appendChild(kind);
      actions.appendChild(
        button(
          'mutirao-HistoryDiff',
          'Diff',
          'Compare with the working copy',
          () => {
            const location = this._location!;
            this._actions.openDiff(
              location.repo,
              location.path,
              { rev: entry.rev, label: labelOf(entry) },
              { rev: api.WORKING, label: 'working copy' }
            );
          }
        )
      );
      actions.appendChild(
        button(
          'mutirao-HistoryRestore',
          'Restore',
          'Restore the file to this version',
          () => this._restore(entry)
        )
      );
    }
    if (entry.kind === 'snapshot') {
      actions.appendChild(
        button(
          'mutirao-HistoryPromote',
          'Commit',
          'Commit the file as it was in this snapshot',
          () => this._promote(entry)
        )
      );
    }
    main.appendChild(actions);
    li.appendChild(main);
    return li;
  }

  private _actions: IHistoryActions;
  private _rootPath: string | null = null;
  private _location: api.ILocation | null = null;
  private _branch: string | null = null;
  private _commits: api.ICommit[] = [];
  private _snapshots: api.ICommit[] = [];
  private _moreCommits = false;
  private _moreSnapshots = false;
  private _selected: string[] = [];
  private _generation = 0;
  private _fileNode: HTMLElement;
  private _branchNode: HTMLElement;
  private _progress: HTMLProgressElement;
  private _status: HTMLElement;
  private _compare: HTMLButtonElement;
  private _list: HTMLUListElement;
  private _more: HTMLButtonElement;
  private _empty: HTMLElement;
  private _outside = false;
}

/**
 * The clone dialog's body: the remote's https URL and the new folder (named after the
 * repository until the user names it).
 */
class CloneBody
  extends Widget
  implements Dialog.IBodyWidget<{ url: string; folder: string }>
{
  constructor() {
    super();
    this.addClass('mutirao-CloneDialog');
    const urlLabel = document.createElement('label');
    urlLabel.textContent = 'Repository URL (https)';
    this._url = document.createElement('input');
    this._url.className = 'jp-mod-styled mutirao-CloneUrl';
    this._url.placeholder = 'https://github.com/team/project.git';
    urlLabel.appendChild(this._url);
    const folderLabel = document.createElement('label');
    folderLabel.textContent = 'Into the new folder';
    this._folder = document.createElement('input');
    this._folder.className = 'jp-mod-styled mutirao-CloneFolder';
    folderLabel.appendChild(this._folder);
    this._url.oninput = () => {
      if (!this._folderEdited) {
        this._folder.value = folderOf(this._url.value);
      }
    };
    this._folder.oninput = () => {
      this._folderEdited = true;
    };
    this.node.append(urlLabel, folderLabel);
  }

  getValue(): { url: string; folder: string } {
    return {
      url: this._url.value.trim(),
      folder: this._folder.value.trim() || folderOf(this._url.value)
    };
  }

  private _url: HTMLInputElement;
  private _folder: HTMLInputElement;
  private _folderEdited = false;
}

/**
 * `project` for `https://host/team/project.git`.
 */
export function folderOf(url: string): string {
  const last = url.trim().replace(/\/+$/, '').split('/').pop() ?? '';
  return last.replace(/\.git$/, '');
}

function button(
  className: string,
  label: string,
  title: string,
  run: () => unknown
): HTMLButtonElement {
  const node = document.createElement('button');
  node.className = `jp-Button mutirao-HistoryButton ${className}`;
  node.textContent = label;
  node.title = title;
  node.onclick = () => void run();
  return node;
}
