/**
 * The visible read-only mode of viewers and commenters in a room.
 *
 * The server already refuses their writes (the Authorizer) and drops their document updates
 * (the collaboration websocket filter); this makes the lab say so instead of letting them
 * type into a document that never changes for anyone else: every cell and text editor is
 * read-only, commands that change documents, files or kernels are disabled (menus, toolbars
 * and shortcuts all go through the command registry), no kernel is started for them, and a
 * badge in the top bar and in each notebook's toolbar says "Viewer — read only". A key typed
 * into a document, or files dropped on the file browser, bring up a notice saying why nothing
 * happens; the file browser's upload button is disabled with its other write actions, and
 * the main area offers no "+" for a new launcher (style/rooms.css). (The
 * server leaves terminals out of a read-only member's page, so the lab neither offers nor
 * polls them: see mutirao_lab.rooms.pageconfig.)
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import type { Cell } from '@jupyterlab/cells';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

/**
 * Commands a read-only member may not run: they change a document, a file or a kernel.
 */
export const BLOCKED_COMMANDS: RegExp[] = [
  /^notebook:(run|restart|interrupt|insert|delete|cut|paste|move|merge|split|change-cell-to|undo|redo|clear|replace|duplicate|create-new|change-kernel|reconnect|toggle-render|hide|show|enable-output|disable-output|trust)/,
  /^(runmenu|kernelmenu|editmenu):/,
  /^console:/,
  /^terminal:create/,
  /^(fileeditor|notebook):create-new/,
  /^launcher:create/,
  /^docmanager:(save|rename|delete|new-untitled|duplicate|reload|restore-checkpoint|toggle-autosave)/,
  /^filebrowser:(delete|rename|paste|cut|duplicate|create-new|new-|upload)/,
  /^completer:/,
  /^(codemirror|fileeditor):(change|replace|undo|redo|indent|comment)/
];

export function isBlocked(command: string): boolean {
  return BLOCKED_COMMANDS.some(re => re.test(command));
}

/** The words shown for a read-only role. */
export function readOnlyLabel(role: string): string {
  const name = role.charAt(0).toUpperCase() + role.slice(1);
  return `${name} — read only`;
}

/** Keys that would change a document: printable characters, deletion, a new line. */
export function isEditingKey(event: KeyboardEvent): boolean {
  if (event.ctrlKey || event.metaKey || event.altKey) {
    return false;
  }
  if (event.key === 'Enter') {
    return !event.shiftKey; // Shift+Enter runs: the command registry says no to that
  }
  return (
    event.key.length === 1 ||
    event.key === 'Backspace' ||
    event.key === 'Delete'
  );
}

/** Milliseconds during which a second notice is not shown. */
export const NOTICE_INTERVAL = 3000;

function badge(role: string, className: string): Widget {
  const w = new Widget();
  w.addClass('mutirao-ReadOnlyBadge');
  w.addClass(className);
  w.node.textContent = readOnlyLabel(role);
  w.node.title =
    `Your role in this room is ${role}: you can read and follow live edits` +
    (role === 'commenter' ? ' and comment' : '') +
    ', but not edit, save or run code.';
  w.node.dataset.role = role;
  w.node.setAttribute('role', 'status');
  return w;
}

/**
 * Put the lab in read-only mode for `role`.
 */
export function enterReadOnly(
  app: JupyterFrontEnd,
  tracker: INotebookTracker | null,
  role: string
): void {
  document.body.classList.add('mutirao-mod-readOnly');
  document.body.dataset.mutiraoRole = role;
  const top = badge(role, 'mutirao-mod-top');
  top.id = 'mutirao-read-only';
  app.shell.add(top, 'top', { rank: 900 });

  // Every route to a command (menus, toolbars, palette, shortcuts) asks the registry.
  const commands = app.commands;
  const isEnabled = commands.isEnabled.bind(commands);
  const execute = commands.execute.bind(commands);
  commands.isEnabled = (id, args) => !isBlocked(id) && isEnabled(id, args);
  commands.execute = (id, args) => {
    if (isBlocked(id)) {
      Notification.warning(
        `${readOnlyLabel(role)}: your role does not allow this.`,
        { autoClose: 3000 }
      );
      return Promise.reject(new Error(`${id}: read only (${role})`));
    }
    return execute(id, args);
  };
  for (const id of commands.listCommands()) {
    if (isBlocked(id)) {
      commands.notifyCommandChanged(id);
    }
  }

  // A typed key is not dropped silently: say once in a while why nothing changes.
  let lastNotice = 0;
  const notice = (what: string) => {
    const now = Date.now();
    if (now - lastNotice < NOTICE_INTERVAL) {
      return;
    }
    lastNotice = now;
    Notification.warning(
      `${readOnlyLabel(role)}: you can follow this ${what} but not change it.`,
      { autoClose: 4000 }
    );
  };
  document.addEventListener(
    'keydown',
    event => {
      const target = event.target as HTMLElement | null;
      const editor = target?.closest?.('.cm-editor');
      if (!editor || !isEditingKey(event)) {
        return;
      }
      const inMain = editor.closest('.jp-MainAreaWidget, .jp-NotebookPanel');
      if (inMain) {
        notice(editor.closest('.jp-Notebook') ? 'notebook' : 'document');
      }
    },
    true
  );
  // Files dropped on the file browser would be uploaded or moved: refuse, and say so.
  const refuseDrop = (event: Event) => {
    const target = event.target as HTMLElement | null;
    if (!target?.closest?.('.jp-FileBrowser')) {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
    const transfer = (event as DragEvent).dataTransfer;
    if (transfer) {
      transfer.dropEffect = 'none';
    }
    notice('folder');
  };
  for (const type of ['dragover', 'drop', 'lm-dragover', 'lm-drop']) {
    document.addEventListener(type, refuseDrop, true);
  }

  const lockCell = (cell: Cell) => {
    // locally only: by default a cell records its read-only state in the shared
    // document's metadata ("editable"), which would lock it for everyone
    cell.syncEditable = false;
    cell.readOnly = true;
  };
  const lockNotebook = (panel: NotebookPanel) => {
    // no kernel for someone who may not run code, neither a new one nor the one the room's
    // editors use: the server refuses a read-only member's kernel websocket, and the lab
    // would try it again and again
    panel.sessionContext.kernelPreference = {
      ...panel.sessionContext.kernelPreference,
      shouldStart: false,
      canStart: false,
      shouldReuse: false,
      autoStartDefault: false
    };
    panel.addClass('mutirao-mod-readOnly');
    panel.toolbar.insertItem(
      0,
      'mutirao-read-only',
      badge(role, 'mutirao-mod-toolbar')
    );
    const lockAll = () => panel.content.widgets.forEach(lockCell);
    lockAll();
    panel.content.model?.cells.changed.connect(lockAll);
    panel.context.ready.then(lockAll).catch(() => undefined);
  };
  tracker?.widgetAdded.connect((_, panel) => lockNotebook(panel));
  tracker?.forEach(lockNotebook);

  // Text editors (and any other document with a code editor)
  const lockEditors = () => {
    for (const widget of app.shell.widgets('main')) {
      const editor = (
        widget as unknown as {
          content?: {
            editor?: { setOption?: (k: string, v: unknown) => void };
          };
        }
      ).content?.editor;
      if (editor?.setOption && !widget.hasClass('mutirao-mod-readOnly')) {
        editor.setOption('readOnly', true);
        widget.addClass('mutirao-mod-readOnly');
      }
    }
  };
  lockEditors();
  (
    app.shell as unknown as {
      layoutModified?: { connect: (f: () => void) => void };
    }
  ).layoutModified?.connect(lockEditors);
}
