/**
 * The rooms plugin: the Rooms side panel, the read-only mode of viewers and commenters, and
 * the presence list from jupyter-collaboration's global awareness.
 */
import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { IGlobalAwareness } from '@jupyter/collaborative-drive';
import { PageConfig } from '@jupyterlab/coreutils';
import { INotebookTracker } from '@jupyterlab/notebook';
import type { Awareness } from 'y-protocols/awareness';

import * as comments from '../comments/api';
import { RoomsClient, canWrite } from './api';
import { RoomsPanel } from './panel';
import { Presence } from './presence';
import { enterReadOnly } from './readonly';

export namespace RoomCommandIDs {
  export const open = 'mutirao-lab:open-rooms';
}

export const roomsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'mutirao-lab:rooms',
  description:
    'Rooms: the panel, presence, sharing and the read-only mode of viewers.',
  autoStart: true,
  optional: [IGlobalAwareness, INotebookTracker, ILabShell],
  activate: (
    app: JupyterFrontEnd,
    awareness: Awareness | null,
    tracker: INotebookTracker | null,
    labShell: ILabShell | null
  ) => {
    const shell = labShell ?? app.shell;
    let role: string | null = null;
    const presence = awareness ? new Presence(awareness) : null;
    const panel = new RoomsPanel({
      client: new RoomsClient(),
      role: () => role,
      presence,
      openPath: path => void app.commands.execute('docmanager:open', { path })
    });
    shell.add(panel, 'left', { rank: 950 });

    // A room's server puts the person's role in the page: read-only from the first moment,
    // before any notebook connects to a kernel the server would refuse them.
    let readOnly = false;
    const pageRole = PageConfig.getOption('mutiraoRoomRole');
    if (pageRole && !canWrite(pageRole)) {
      role = pageRole;
      enterReadOnly(app, tracker, pageRole);
      readOnly = true;
    }

    // In a room, the role the hub gives this person (their shares and teams, as the rooms
    // service reads them); on a personal server, the role the server gives (owner).
    const learnRole = async () => {
      await app.restored;
      await panel.refresh();
      const room = panel.room;
      if (room) {
        role = room.my_role;
      } else if (!panel.isRoomServer) {
        role = (await comments.members()).me.role;
      }
      panel.roleChanged();
      if (!canWrite(role) && !readOnly) {
        enterReadOnly(app, tracker, role ?? 'viewer');
        readOnly = true;
      }
    };
    learnRole().catch(error =>
      console.warn('Mutirão: room role unknown', error)
    );

    app.commands.addCommand(RoomCommandIDs.open, {
      label: 'Show Rooms',
      caption: 'Open the Rooms side panel',
      execute: () => shell.activateById(panel.id)
    });
  }
};
