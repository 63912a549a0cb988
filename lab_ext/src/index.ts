import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { commentsPlugin } from './comments/plugin';
import { roomsPlugin } from './rooms/plugin';
import { versioningPlugin } from './versioning/plugin';
import { MutiraoAPIError, requestAPI } from './handler';
import { notificationsPlugin } from './notifications';
import { runtimePlugin } from './runtime';

export { MutiraoAPIError, requestAPI } from './handler';
export { COMMENTS_PANEL_ID, CommentsPanel } from './comments/panel';

/**
 * Id of the left side-panel widget (also the DOM id of its root node).
 */
export const PANEL_ID = 'mutirao-panel';

/**
 * Command ids.
 */
export namespace CommandIDs {
  export const openPanel = 'mutirao-lab:open-panel';
}

/**
 * A small "people working together" glyph for the side-panel tab.
 */
const mutiraoSvgStr = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <circle cx="7" cy="7" r="3"/>
    <circle cx="17" cy="7" r="3"/>
    <circle cx="12" cy="10" r="2.5"/>
    <path d="M1 19c0-3.3 2.7-6 6-6 1.3 0 2.5.4 3.5 1.1-1.5 1.2-2.5 3-2.5 4.9H1z"/>
    <path d="M23 19c0-3.3-2.7-6-6-6-1.3 0-2.5.4-3.5 1.1 1.5 1.2 2.5 3 2.5 4.9h7z"/>
    <path d="M7.5 21c0-2.5 2-4.5 4.5-4.5s4.5 2 4.5 4.5h-9z"/>
  </g>
</svg>`;

export const mutiraoIcon = new LabIcon({
  name: 'mutirao-lab:mutirao',
  svgstr: mutiraoSvgStr
});

/**
 * Response of `GET <baseUrl>mutirao/api/version`.
 */
export interface IVersionInfo {
  version: string;
}

/**
 * Turn any failure of the version request into a readable sentence.
 */
function describeError(error: unknown): string {
  if (error instanceof MutiraoAPIError) {
    return `HTTP ${error.status}: ${error.message}`;
  }
  if (error instanceof ServerConnection.NetworkError) {
    return `network error: ${error.message}`;
  }
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}

/**
 * The Mutirão left side panel.
 */
export class MutiraoPanel extends Widget {
  constructor() {
    super();
    this.id = PANEL_ID;
    this.addClass('mutirao-Panel');
    this.node.dataset.testid = PANEL_ID;
    this.title.icon = mutiraoIcon;
    this.title.caption = 'Mutirão';

    const heading = document.createElement('h2');
    heading.className = 'mutirao-heading';
    heading.textContent = 'Mutirão';

    this._versionNode = document.createElement('div');
    this._versionNode.className = 'mutirao-version';
    this._versionNode.dataset.testid = 'mutirao-version';

    this.node.appendChild(heading);
    this.node.appendChild(this._versionNode);

    void this.refreshVersion();
  }

  /**
   * Fetch the server extension version and display it.
   */
  async refreshVersion(): Promise<void> {
    const node = this._versionNode;
    node.dataset.state = 'loading';
    node.classList.remove('mutirao-error');
    node.textContent = 'Server extension: loading…';
    try {
      const info = await requestAPI<IVersionInfo>('version');
      node.textContent = `Server extension: mutirao_lab ${info.version}`;
      node.dataset.state = 'loaded';
    } catch (error) {
      console.error(
        'Mutirão: could not fetch the server extension version',
        error
      );
      node.textContent = `Server extension: unavailable (${describeError(error)})`;
      node.classList.add('mutirao-error');
      node.dataset.state = 'error';
    }
  }

  private _versionNode: HTMLDivElement;
}

/**
 * The Mutirão frontend plugin.
 */
const plugin: JupyterFrontEndPlugin<void> = {
  id: 'mutirao-lab:plugin',
  description: 'Mutirão side panel for JupyterLab.',
  autoStart: true,
  optional: [ILabShell, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    labShell: ILabShell | null,
    palette: ICommandPalette | null
  ) => {
    const panel = new MutiraoPanel();
    const shell = labShell ?? app.shell;
    shell.add(panel, 'left', { rank: 1000 });

    app.commands.addCommand(CommandIDs.openPanel, {
      label: 'Show Mutirão Panel',
      caption: 'Open the Mutirão side panel',
      icon: args => (args['isPalette'] ? undefined : mutiraoIcon),
      execute: () => {
        shell.activateById(panel.id);
      }
    });
    if (palette) {
      palette.addItem({
        command: CommandIDs.openPanel,
        category: 'Mutirão',
        args: { isPalette: true }
      });
    }
  }
};

export default [
  plugin,
  commentsPlugin,
  roomsPlugin,
  versioningPlugin,
  runtimePlugin,
  notificationsPlugin
];
