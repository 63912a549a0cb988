/**
 * The share dialog: a user, a team or an expiring link, at a role no higher than one's own
 * (the rooms service refuses higher ones anyway; its answer is shown as it is), and below,
 * the room's current shares with a "Revoke" button each (./sharelist).
 */
import { Dialog, Notification } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { Widget } from '@lumino/widgets';

import { describeFailure } from '../dom';
import { ROLES, Role, RoomsClient, roleRank } from './api';
import { ShareList } from './sharelist';
import { Suggestions } from './suggest';

export type ShareKind = 'user' | 'team' | 'link';

/** Link lifetimes offered, in seconds. */
export const LINK_EXPIRIES: [string, number][] = [
  ['1 hour', 3600],
  ['1 day', 86400],
  ['7 days', 7 * 86400],
  ['30 days', 30 * 86400]
];

/** The roles someone with `myRole` may grant. */
export function grantableRoles(myRole: string | null): Role[] {
  return ROLES.filter(r => roleRank(r) <= roleRank(myRole));
}

function field(label: string, control: HTMLElement): HTMLLabelElement {
  const node = document.createElement('label');
  node.className = 'mutirao-ShareField';
  const span = document.createElement('span');
  span.textContent = label;
  node.append(span, control);
  return node;
}

function select(
  className: string,
  options: [string, string][],
  value?: string
): HTMLSelectElement {
  const node = document.createElement('select');
  node.className = `jp-mod-styled ${className}`;
  for (const [v, text] of options) {
    const o = document.createElement('option');
    o.value = v;
    o.textContent = text;
    node.appendChild(o);
  }
  if (value !== undefined) {
    node.value = value;
  }
  return node;
}

/**
 * The dialog's body: who (kind + name), role, expiry, the outcome, and the current shares.
 */
export class ShareForm extends Widget {
  constructor(
    readonly room: string,
    myRole: string | null,
    private _client: RoomsClient,
    me: string = PageConfig.getOption('hubUser')
  ) {
    super();
    this.addClass('mutirao-ShareForm');
    this.node.dataset.testid = 'mutirao-share-form';
    const roles = grantableRoles(myRole);
    this.kind = select('mutirao-ShareKind', [
      ['user', 'A person'],
      ['team', 'A team'],
      ['link', 'Anyone with a link']
    ]);
    this.name = document.createElement('input');
    this.name.className = 'jp-mod-styled mutirao-ShareName';
    this.name.placeholder = 'user name or e-mail';
    this.name.maxLength = 255;
    this.suggestions = new Suggestions(this.name, _client, room, choice => {
      this.kind.value = choice.kind === 'group' ? 'team' : 'user';
      this.name.value = choice.name;
      this._update();
      this.role.focus();
    });
    this.role = select(
      'mutirao-ShareRole',
      roles.map(r => [r, r]),
      roles.includes('viewer') ? 'viewer' : roles[0]
    );
    this.expiry = select(
      'mutirao-ShareExpiry',
      LINK_EXPIRIES.map(([label, s]) => [String(s), label]),
      String(86400)
    );
    this._nameField = field('Name', this.name);
    const nameBox = document.createElement('span');
    nameBox.className = 'mutirao-SuggestBox';
    nameBox.append(this.name, this.suggestions.node);
    this._nameField.append(nameBox);
    this._expiryField = field('Expires in', this.expiry);
    this.submitButton = document.createElement('button');
    this.submitButton.type = 'button';
    this.submitButton.className =
      'jp-Dialog-button jp-mod-accept jp-mod-styled mutirao-ShareSubmit';
    this.submitButton.textContent = 'Share';
    this.submitButton.addEventListener('click', () => void this.submit());
    this.result = document.createElement('div');
    this.result.className = 'mutirao-ShareResult';
    this.result.setAttribute('aria-live', 'polite');
    this.list = new ShareList(room, _client, me);
    this.node.append(
      field('Share with', this.kind),
      this._nameField,
      field('Role', this.role),
      this._expiryField,
      this.submitButton,
      this.result,
      this.list.node
    );
    this.name.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        event.preventDefault();
        event.stopPropagation();
        void this.submit();
      }
    });
    this.kind.addEventListener('change', () => this._update());
    this._update();
    void this.list.refresh();
  }

  readonly kind: HTMLSelectElement;
  readonly name: HTMLInputElement;
  readonly role: HTMLSelectElement;
  readonly expiry: HTMLSelectElement;
  readonly submitButton: HTMLButtonElement;
  readonly result: HTMLDivElement;
  /** The room's current shares, each with "Revoke". */
  readonly list: ShareList;
  /** People and teams offered as a name is typed. */
  readonly suggestions: Suggestions;

  dispose(): void {
    this.suggestions.dispose();
    this.list.dispose();
    super.dispose();
  }

  /**
   * Send the share; the outcome (or the service's refusal) is written into the form.
   * Returns whether it was accepted.
   */
  async submit(): Promise<boolean> {
    const kind = this.kind.value as ShareKind;
    const role = this.role.value as Role;
    const name = this.name.value.trim();
    this.result.classList.remove('mutirao-error');
    this.result.dataset.state = 'sending';
    this.result.textContent = 'Sharing…';
    this.submitButton.disabled = true;
    try {
      if (kind === 'link') {
        const link = await this._client.createLink(
          this.room,
          role,
          Number(this.expiry.value)
        );
        const url =
          link.full_accept_url ||
          new URL(link.accept_url ?? '', window.location.href).href;
        this.result.textContent = '';
        const input = document.createElement('input');
        input.className = 'jp-mod-styled mutirao-ShareLink';
        input.readOnly = true;
        input.value = url;
        input.addEventListener('focus', () => input.select());
        const expires = new Date(link.expires_at).toLocaleString();
        const row = document.createElement('div');
        row.className = 'mutirao-ShareLinkRow';
        row.append(input, copyButton(input));
        this.result.append(
          `A ${role} link, valid until ${expires}. Anyone who opens it while it is valid joins the room:`,
          row
        );
      } else {
        if (!name) {
          throw new Error(
            `Type the ${kind === 'user' ? 'user' : 'team'} name.`
          );
        }
        const member =
          kind === 'user'
            ? await this._client.share(this.room, { user: name }, role)
            : await this._client.share(this.room, { team: name }, role);
        this.result.textContent = !member.pending
          ? `${member.kind === 'group' ? 'Team' : 'User'} ${member.name} is now ${member.role}.`
          : member.kind === 'group'
            ? `Nobody in team ${member.name} has signed in yet: the ${member.role} share waits for its first member's sign-in.`
            : `${member.name} has not signed in yet: the ${member.role} share waits for their first sign-in.`;
      }
      this.result.dataset.state = 'done';
      void this.list.refresh(true);
      return true;
    } catch (error) {
      this.result.classList.add('mutirao-error');
      this.result.dataset.state = 'error';
      this.result.textContent = describeFailure(error);
      return false;
    } finally {
      this.submitButton.disabled = false;
    }
  }

  private _update(): void {
    const link = this.kind.value === 'link';
    this._nameField.hidden = link;
    this._expiryField.hidden = !link;
    this.name.placeholder =
      this.kind.value === 'team' ? 'team name' : 'user name or e-mail';
    this.suggestions.kinds = new Set(
      this.kind.value === 'team' ? ['group'] : ['user', 'group']
    );
  }

  private _nameField: HTMLLabelElement;
  private _expiryField: HTMLLabelElement;
}

/**
 * Put a text on the clipboard: the Clipboard API where the page may use it (HTTPS, or
 * localhost), else the browser's copy command on the selected input.
 */
export async function copyText(
  text: string,
  input?: HTMLInputElement
): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // refused (no permission, page not focused): try the copy command
  }
  if (input) {
    input.focus();
    input.select();
    return document.execCommand('copy');
  }
  return false;
}

/** A "Copy" button for a link's input; says whether it worked, in place and in a toast. */
function copyButton(input: HTMLInputElement): HTMLButtonElement {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'jp-mod-styled mutirao-ShareCopy';
  button.textContent = 'Copy';
  button.title = 'Copy the link to the clipboard';
  button.addEventListener('click', () => {
    void copyText(input.value, input).then(ok => {
      button.textContent = ok ? 'Copied' : 'Copy';
      button.dataset.state = ok ? 'copied' : 'failed';
      if (ok) {
        Notification.success('Link copied to the clipboard.', {
          autoClose: 3000
        });
      } else {
        input.select();
        Notification.warning(
          'The browser did not let the page copy: the link is selected, press Ctrl+C (⌘C).',
          { autoClose: 5000 }
        );
      }
    });
  });
  return button;
}

/**
 * Show the share dialog; its own "Share" button sends (the dialog stays open with the
 * outcome, so a link can be copied) and "Close" closes it.
 */
export async function showShareDialog(
  client: RoomsClient,
  room: string,
  myRole: string | null,
  displayName: string = room
): Promise<void> {
  const dialog = new Dialog({
    title: `Share ${displayName || room}`,
    body: new ShareForm(room, myRole, client),
    buttons: [Dialog.cancelButton({ label: 'Close' })],
    focusNodeSelector: '.mutirao-ShareKind'
  });
  // taller than JupyterLab's 500px dialogs, so the current shares fit below the form
  dialog.addClass('mutirao-ShareDialog');
  await dialog.launch();
}
