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
import {
  IRoom,
  RoomsClient,
  canWrite,
  roleRank,
  sharedRoomsClient
} from './api';
import {
  deleteRoom,
  newRoom,
  renameRoom,
  setArchived,
  setServer,
  showMembers
} from './lifecycle';
import { RoomCommandIDs, RoomsPanel } from './panel';
import { Presence } from './presence';
import { enterReadOnly } from './readonly';
import { showShareDialog } from './share';
import { RoomTopBar, keepRoomInTitle } from './topbar';

export { RoomCommandIDs } from './panel';

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
    const client = sharedRoomsClient();
    const panel = new RoomsPanel({
      client,
      commands: app.commands,
      role: () => role,
      presence,
      openPath: path => void app.commands.execute('docmanager:open', { path })
    });
    shell.add(panel, 'left', { rank: 950 });
    addRoomCommands(app, panel, client);

    // Inside a room: its display name in the top bar (with its members one click away) and
    // in the tab's title
    const topBar = new RoomTopBar(
      () =>
        void app.commands.execute(RoomCommandIDs.members, {
          room: panel.room?.name ?? ''
        })
    );
    app.shell.add(topBar, 'top', { rank: 890 });
    const retitle = keepRoomInTitle(() =>
      panel.room ? panel.room.display_name || panel.room.name : null
    );
    panel.changed.connect(() => {
      topBar.setRoom(panel.room);
      retitle();
    });

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

/**
 * The rooms commands. Each takes the room's name as `room`, is enabled when the room's state
 * and one's role allow it (the rooms service decides anyway), and refreshes the panel after.
 */
function addRoomCommands(
  app: JupyterFrontEnd,
  panel: RoomsPanel,
  client: RoomsClient
): void {
  const { commands } = app;
  const roomOf = (args: { room?: unknown }): IRoom | undefined =>
    typeof args.room === 'string' ? panel.findRoom(args.room) : undefined;
  const isOwner = (room: IRoom | undefined) =>
    !!room && (room.admin || room.my_role === 'owner');
  const listed = (room: IRoom | undefined) =>
    room ? panel.rooms.find(r => r.name === room.name) : undefined;
  const running = (room: IRoom | undefined) => !!listed(room)?.server?.running;
  const then = (done: Promise<unknown>) =>
    void done.then(() => panel.refresh());

  commands.addCommand(RoomCommandIDs.create, {
    label: 'New Room…',
    caption: 'Create a room for your teams',
    isEnabled: () => panel.me?.may_create ?? true,
    execute: () =>
      void newRoom(client).then(room => {
        if (room) {
          void panel.refresh();
        }
      })
  });
  commands.addCommand(RoomCommandIDs.openRoom, {
    label: 'Open',
    isEnabled: args => !!roomOf(args) && !roomOf(args)!.archived,
    execute: args => panel.openRoom(String(args.room))
  });
  commands.addCommand(RoomCommandIDs.members, {
    label: 'Members…',
    isEnabled: args => !!roomOf(args),
    execute: args => {
      const room = roomOf(args);
      if (!room) {
        return;
      }
      const share = panel.mayShare(room) && !room.archived;
      return showMembers(
        client,
        room,
        PageConfig.getOption('hubUser'),
        share
          ? () =>
              void commands.execute(RoomCommandIDs.share, { room: room.name })
          : null
      );
    }
  });
  commands.addCommand(RoomCommandIDs.share, {
    label: 'Share…',
    isEnabled: args => {
      const room = roomOf(args);
      return !!room && !room.archived && panel.mayShare(room);
    },
    execute: args => {
      const room = roomOf(args);
      if (!room) {
        return;
      }
      const role = room.admin ? 'owner' : room.my_role;
      then(showShareDialog(client, room.name, role, room.display_name));
    }
  });
  commands.addCommand(RoomCommandIDs.rename, {
    label: 'Rename…',
    isEnabled: args => isOwner(roomOf(args)),
    execute: args => then(renameRoom(client, roomOf(args)!))
  });
  commands.addCommand(RoomCommandIDs.start, {
    label: 'Start Server',
    isEnabled: args => {
      const room = roomOf(args);
      return (
        !!room &&
        !room.archived &&
        !running(room) &&
        (room.admin || roleRank(room.my_role) >= roleRank(panel.me?.start_role))
      );
    },
    execute: args => then(setServer(client, roomOf(args)!, true))
  });
  commands.addCommand(RoomCommandIDs.stop, {
    label: 'Stop Server',
    isEnabled: args => {
      const room = roomOf(args);
      return (
        !!room &&
        running(room) &&
        (room.admin || roleRank(room.my_role) >= roleRank(panel.me?.stop_role))
      );
    },
    execute: args => then(setServer(client, roomOf(args)!, false))
  });
  commands.addCommand(RoomCommandIDs.archive, {
    label: 'Archive…',
    isEnabled: args => isOwner(roomOf(args)) && !roomOf(args)!.archived,
    execute: args => then(setArchived(client, roomOf(args)!, true))
  });
  commands.addCommand(RoomCommandIDs.unarchive, {
    label: 'Unarchive',
    isEnabled: args => isOwner(roomOf(args)) && !!roomOf(args)!.archived,
    execute: args => then(setArchived(client, roomOf(args)!, false))
  });
  commands.addCommand(RoomCommandIDs.remove, {
    label: 'Delete…',
    caption: 'Delete an archived room for good',
    isEnabled: args => isOwner(roomOf(args)) && !!roomOf(args)!.archived,
    execute: args => then(deleteRoom(client, roomOf(args)!))
  });
}
