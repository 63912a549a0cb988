/**
 * The commit dialog and the branch picker. Names of files and branches come from the
 * repository and are shown as text only.
 */
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import * as api from './api';
import { MutiraoAPIError } from '../handler';
import { describeError } from './people';
import { StatusBody, button } from './ui';

/**
 * The commit dialog's body: a message and the changed files to commit (the current file
 * ticked).
 */
export class CommitBody
  extends Widget
  implements
    Dialog.IBodyWidget<{
      message: string;
      paths: string[];
    }>
{
  constructor(current: string, files: api.IStatusFile[]) {
    super();
    this.addClass('mutirao-CommitDialog');
    const label = document.createElement('label');
    label.textContent = 'Message';
    this._message = document.createElement('textarea');
    this._message.className = 'jp-mod-styled mutirao-CommitMessage';
    this._message.rows = 4;
    this._message.placeholder = 'What changed, and why';
    label.appendChild(this._message);
    this.node.appendChild(label);

    const heading = document.createElement('div');
    heading.className = 'mutirao-CommitFilesHeading';
    heading.textContent = 'Files to commit';
    this.node.appendChild(heading);
    const list = document.createElement('ul');
    list.className = 'mutirao-CommitFiles';
    // JupyterLab's checkpoints are its own copies, never something to commit
    const paths = [
      current,
      ...files
        .map(f => f.path)
        .filter(
          p => p !== current && !p.split('/').includes('.ipynb_checkpoints')
        )
    ];
    for (const path of paths) {
      const item = document.createElement('li');
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.className = 'mutirao-CommitFile';
      box.checked = path === current;
      box.dataset.path = path;
      const name = document.createElement('span');
      name.textContent = path;
      const file = files.find(f => f.path === path);
      const state = document.createElement('span');
      state.className = 'mutirao-CommitFileState';
      state.textContent = file ? stateOf(file) : 'unchanged';
      const wrap = document.createElement('label');
      wrap.append(box, name, state);
      item.appendChild(wrap);
      list.appendChild(item);
      this._boxes.push(box);
    }
    this.node.appendChild(list);
  }

  getValue(): { message: string; paths: string[] } {
    return {
      message: this._message.value,
      paths: this._boxes.filter(b => b.checked).map(b => b.dataset.path!)
    };
  }

  protected onAfterAttach(): void {
    this._message.focus();
  }

  private _message: HTMLTextAreaElement;
  private _boxes: HTMLInputElement[] = [];
}

function stateOf(file: api.IStatusFile): string {
  if (file.index === '?') {
    return 'new';
  }
  const code = file.worktree !== ' ' ? file.worktree : file.index;
  return (
    { M: 'modified', A: 'added', D: 'deleted', R: 'renamed', U: 'conflict' }[
      code
    ] ?? 'changed'
  );
}

/**
 * Ask for a message and files, then commit them as the current user. Returns whether a
 * commit was made; a failed commit shows the server's message and asks again.
 */
export async function commitDialog(
  location: api.ILocation,
  rootPath: string
): Promise<boolean> {
  const status = await api.status(location.repo);
  let error: string | null = null;
  let draft = '';
  for (;;) {
    const body = new CommitBody(location.path, status.files);
    body.node.querySelector<HTMLTextAreaElement>(
      '.mutirao-CommitMessage'
    )!.value = draft;
    if (error) {
      const message = document.createElement('div');
      message.className = 'mutirao-error mutirao-CommitError';
      message.textContent = error;
      body.node.prepend(message);
    }
    const answer = await showDialog({
      title: `Commit to ${status.branch ?? 'a detached HEAD'}`,
      body,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Commit' })]
    });
    if (!answer.button.accept || !answer.value) {
      return false;
    }
    draft = answer.value.message;
    try {
      await api.commit(location.repo, answer.value.paths, answer.value.message);
      return true;
    } catch (e) {
      error = describeError(e);
    }
  }
}

/**
 * The branch picker's body: every branch, with switch and delete, and a field to create one.
 * Each action runs at once and reports in the dialog.
 */
export class BranchPicker extends StatusBody {
  constructor(repo: string, onConflicts?: (branch: string) => void) {
    super('mutirao-BranchStatus');
    this._repo = repo;
    this._onConflicts = onConflicts ?? null;
    this.addClass('mutirao-BranchPicker');
    this._list = document.createElement('ul');
    this._list.className = 'mutirao-BranchList';
    const create = document.createElement('div');
    create.className = 'mutirao-BranchCreate';
    this._name = document.createElement('input');
    this._name.className = 'jp-mod-styled mutirao-BranchName';
    this._name.placeholder = 'new-branch-name';
    const createButton = button(
      'mutirao-BranchCreateButton',
      'Create and switch',
      () => this.create(this._name.value.trim())
    );
    this._name.onkeydown = event => {
      if (event.key === 'Enter') {
        event.preventDefault();
        void this.create(this._name.value.trim());
      }
    };
    create.append(this._name, createButton);
    this.node.append(this._list, create, this.statusNode);
  }

  /**
   * Whether the current branch changed while the picker was open.
   */
  changed = false;

  async refresh(): Promise<void> {
    try {
      const found = await api.branches(this._repo);
      this._list.replaceChildren();
      for (const branch of found.branches) {
        const item = document.createElement('li');
        item.className = 'mutirao-Branch';
        item.dataset.name = branch.name;
        item.classList.toggle('mutirao-mod-current', branch.current);
        const name = document.createElement('span');
        name.className = 'mutirao-BranchLabel';
        name.textContent = branch.current
          ? `${branch.name} (current)`
          : branch.name;
        item.appendChild(name);
        if (!branch.current) {
          item.append(
            button('mutirao-BranchSwitch', 'Switch', () =>
              this.run(`Switched to ${branch.name}.`, async () => {
                await api.checkout(this._repo, branch.name);
                this.changed = true;
              })
            ),
            button('mutirao-BranchMerge', 'Merge', () =>
              this.merge(branch.name)
            ),
            button('mutirao-BranchDelete', 'Delete', () =>
              this.remove(branch.name)
            )
          );
        }
        this._list.appendChild(item);
      }
    } catch (error) {
      this.say(describeError(error), true);
    }
  }

  async create(name: string): Promise<void> {
    await this.run(`Created and switched to ${name}.`, async () => {
      await api.createBranch(this._repo, name);
      await api.checkout(this._repo, name);
      this.changed = true;
      this._name.value = '';
    });
  }

  /**
   * Merge a branch into the current one. Conflicts hand over to the conflicts view (the
   * dialog closes); other failures show the server's message here.
   */
  async merge(name: string): Promise<void> {
    this.say(`Merging ${name}…`);
    try {
      const result = await api.merge(this._repo, name);
      this.changed = true;
      const n = result.changed.length;
      const done = `Merged ${name}: ${n} file${n === 1 ? '' : 's'} changed.`;
      Notification.success(done, { autoClose: 5000 });
      await this.refresh();
      this.say(done);
    } catch (error) {
      if (
        error instanceof MutiraoAPIError &&
        error.status === 409 &&
        this._onConflicts
      ) {
        this.changed = true;
        Notification.warning(`Merging ${name} has conflicts.`, {
          autoClose: 5000
        });
        this._onConflicts(name);
        return;
      }
      await this.refresh();
      this.say(`Merge failed: ${describeError(error)}`, true);
    }
  }

  async remove(name: string): Promise<void> {
    try {
      await api.deleteBranch(this._repo, name);
    } catch (error) {
      const answer = await showDialog({
        title: `Delete ${name}?`,
        body: `${describeError(error)} Delete it anyway?`,
        buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
      });
      if (!answer.button.accept) {
        this.say(describeError(error), true);
        return;
      }
      await this.run(`Deleted ${name}.`, () =>
        api.deleteBranch(this._repo, name, true)
      );
      return;
    }
    await this.refresh();
    this.say(`Deleted ${name}.`);
  }

  async run(done: string, work: () => Promise<unknown>): Promise<void> {
    this.say('Working…');
    await this.attempt(done, work);
  }

  private _repo: string;
  private _onConflicts: ((branch: string) => void) | null;
  private _list: HTMLUListElement;
  private _name: HTMLInputElement;
}

/**
 * Show the branch picker until the user closes it. A merge with conflicts closes it and
 * calls `onConflicts` with the merged branch.
 */
export async function branchDialog(
  repo: string,
  onConflicts?: (repo: string, branch: string) => void
): Promise<boolean> {
  let conflicted: string | null = null;
  let dialog: Dialog<unknown> | null = null;
  const picker = new BranchPicker(
    repo,
    onConflicts
      ? branch => {
          conflicted = branch;
          dialog?.resolve(0);
        }
      : undefined
  );
  await picker.refresh();
  dialog = new Dialog({
    title: 'Branches',
    body: picker,
    buttons: [Dialog.okButton({ label: 'Close' })],
    // Enter in the name field creates the branch instead of closing the dialog
    defaultButton: -1,
    focusNodeSelector: '.mutirao-BranchName'
  });
  await dialog.launch();
  dialog.dispose();
  if (conflicted !== null && onConflicts) {
    onConflicts(repo, conflicted);
  }
  return picker.changed;
}

/**
 * Store or forget the current user's credentials for a git host (kept on the server for
 * this user only; the password or token is never sent back).
 */
export class CredentialsForm extends StatusBody {
  constructor() {
    super('mutirao-BranchStatus');
    this.addClass('mutirao-CredentialsForm');
    this._hosts = document.createElement('ul');
    this._hosts.className = 'mutirao-CredentialHosts';
    const field = (name: string, label: string, type = 'text') => {
      const wrap = document.createElement('label');
      wrap.textContent = label;
      const input = document.createElement('input');
      input.className = `jp-mod-styled mutirao-Credential-${name}`;
      input.type = type;
      input.autocomplete = 'off';
      wrap.appendChild(input);
      this.node.appendChild(wrap);
      return input;
    };
    this.node.appendChild(this._hosts);
    this._host = field('host', 'Host (for example github.com)');
    this._user = field('username', 'User name');
    this._secret = field('password', 'Password or access token', 'password');
    const save = button('mutirao-CredentialSave', 'Save', () => this.save());
    for (const input of [this._host, this._user, this._secret]) {
      input.onkeydown = event => {
        if (event.key === 'Enter') {
          event.preventDefault();
          void this.save();
        }
      };
    }
    this.node.append(save, this.statusNode);
  }

  async refresh(): Promise<void> {
    try {
      const { hosts } = await api.credentialHosts();
      this._hosts.replaceChildren();
      for (const { host, username } of hosts) {
        const item = document.createElement('li');
        item.className = 'mutirao-CredentialHost';
        item.dataset.host = host;
        const name = document.createElement('span');
        name.textContent = `${host} (as ${username})`;
        item.append(
          name,
          button('mutirao-CredentialForget', 'Forget', async () => {
            await this.attempt(`Forgot ${host}.`, () =>
              api.forgetCredentials(host)
            );
          })
        );
        this._hosts.appendChild(item);
      }
    } catch (error) {
      this.say(describeError(error), true);
    }
  }

  async save(): Promise<void> {
    const host = this._host.value.trim();
    await this.attempt(`Saved credentials for ${host}.`, async () => {
      await api.setCredentials(host, this._user.value, this._secret.value);
      this._secret.value = '';
    });
  }

  private _hosts: HTMLUListElement;
  private _host: HTMLInputElement;
  private _user: HTMLInputElement;
  private _secret: HTMLInputElement;
}

export async function credentialsDialog(): Promise<void> {
  const form = new CredentialsForm();
  await form.refresh();
  await showDialog({
    title: 'Git credentials',
    body: form,
    buttons: [Dialog.okButton({ label: 'Close' })],
    // Enter in a field saves instead of closing the dialog
    defaultButton: -1,
    focusNodeSelector: '.mutirao-Credential-host'
  });
}
