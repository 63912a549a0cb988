/**
 * What the versioning dialogs and panels build their bodies from: elements with text only
 * (names come from the repository and are never parsed as HTML), buttons, and a body with a
 * status line that reports each action after refreshing what it shows.
 */
import { Widget } from '@lumino/widgets';

import { el } from '../dom';
import { describeError } from './people';

/**
 * A styled JupyterLab button that runs `run` on click.
 */
export function button(
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
 * A status line (`role="status"`) that says what an action did: `data-state` is `info` or
 * `error`, and errors take the error colours.
 */
export class StatusLine {
  constructor(className: string) {
    this.node = el('div', className);
    this.node.setAttribute('role', 'status');
  }

  say(text: string, error = false): void {
    this.node.textContent = text;
    this.node.classList.toggle('mutirao-error', error);
    this.node.dataset.state = error ? 'error' : 'info';
  }

  readonly node: HTMLElement;
}

/**
 * A dialog or panel body with a status line. Subclasses append `statusNode` where it belongs
 * and implement `refresh`.
 */
export abstract class StatusBody extends Widget {
  constructor(statusClass: string) {
    super();
    this._status = new StatusLine(statusClass);
  }

  /**
   * Reload what the body shows.
   */
  abstract refresh(): Promise<void>;

  /**
   * Run `work`, refresh, then report `done` or the error: the list first, then the message,
   * so what the message says is already shown. Answers whether `work` succeeded.
   */
  async attempt(
    done: string,
    work: () => Promise<unknown>,
    failurePrefix = ''
  ): Promise<boolean> {
    let failure: string | null = null;
    try {
      await work();
    } catch (error) {
      failure = failurePrefix + describeError(error);
    }
    await this.refresh();
    this.say(failure ?? done, failure !== null);
    return failure === null;
  }

  say(text: string, error = false): void {
    this._status.say(text, error);
  }

  protected get statusNode(): HTMLElement {
    return this._status.node;
  }

  private _status: StatusLine;
}
