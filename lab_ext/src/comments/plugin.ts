/**
 * The comments plugin: wires the side panel, the badges and the live threads of every open
 * notebook together.
 */
import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { CodeCell } from '@jupyterlab/cells';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';

import * as api from './api';
import { CellBadges, IAnchorTarget } from './badges';
import { Mentions, NotebookThreads } from './model';
import { CommentsPanel, commentsIcon } from './panel';
import { selectedRange } from './selection';

export namespace CommentCommandIDs {
  export const open = 'mutirao-lab:open-comments';
  export const commentCell = 'mutirao-lab:comment-cell';
  export const commentOutput = 'mutirao-lab:comment-output';
  export const commentSelection = 'mutirao-lab:comment-selection';
  export const exportJson = 'mutirao-lab:export-comments';
  export const exportNotebook = 'mutirao-lab:export-comments-notebook';
  export const saveCopy = 'mutirao-lab:save-commented-copy';
}

const PALETTE_CATEGORY = 'Comments';

// how often unread mentions in notebooks that are not open are looked for
const MENTIONS_POLL_MS = 30_000;

export const commentsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'mutirao-lab:comments',
  description: 'Comment threads on notebook cells and outputs.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [IRenderMimeRegistry, ILabShell, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    rendermime: IRenderMimeRegistry | null,
    labShell: ILabShell | null,
    palette: ICommandPalette | null
  ) => {
    const shell = labShell ?? app.shell;
    let members: api.IMembers = {
      me: { username: '', role: 'viewer' },
      members: []
    };
    const mentions = new Mentions();
    const open = new Map<
      NotebookPanel,
      { threads: NotebookThreads; badges: CellBadges }
    >();

    const panel = new CommentsPanel({
      rendermime,
      mentions,
      members: () => members,
      activate: nb => shell.activateById(nb.id)
    });
    shell.add(panel, 'right', { rank: 600 });

    const showCurrent = () => {
      const nb = tracker.currentWidget;
      const entry = nb ? open.get(nb) : undefined;
      panel.setNotebook(entry ? nb : null, entry?.threads ?? null);
    };

    const reveal = (nb: NotebookPanel, target: IAnchorTarget) => {
      shell.activateById(panel.id);
      if (tracker.currentWidget !== nb) {
        shell.activateById(nb.id);
      }
      showCurrent();
      panel.showAnchor(target);
    };

    const track = async (nb: NotebookPanel) => {
      await nb.context.ready;
      if (nb.isDisposed) {
        return;
      }
      let threads: NotebookThreads;
      try {
        threads = await NotebookThreads.open(nb.context.localPath);
      } catch (error) {
        console.warn(`Mutirão: no comments for ${nb.context.localPath}`, error);
        return;
      }
      if (nb.isDisposed) {
        threads.dispose();
        return;
      }
      const badges = new CellBadges(nb, threads, target => reveal(nb, target));
      open.set(nb, { threads, badges });
      threads.changed.connect((_, event) => {
        const me = members.me.username;
        if (
          event?.type === 'created' &&
          event.thread.comments.some(
            c => c.id === event.comment_id && c.mentions.includes(me)
          )
        ) {
          void mentions.refresh();
        }
      });
      // the file keeps its id when renamed; re-read under the new name
      nb.context.pathChanged.connect(() => {
        threads.path = nb.context.localPath;
        void threads.refresh();
      });
      nb.disposed.connect(() => {
        badges.dispose();
        threads.dispose();
        open.delete(nb);
        showCurrent();
      });
      showCurrent();
    };

    void api
      .members()
      .then(m => {
        members = m;
        showCurrent();
        panel.refresh();
      })
      .catch(error => console.warn('Mutirão: comments unavailable', error));
    void mentions.refresh().catch(() => undefined);
    window.setInterval(() => {
      if (document.visibilityState === 'visible') {
        void mentions.refresh().catch(() => undefined);
      }
    }, MENTIONS_POLL_MS);

    tracker.widgetAdded.connect((_, nb) => void track(nb));
    tracker.forEach(nb => void track(nb));
    tracker.currentChanged.connect(showCurrent);

    app.commands.addCommand(CommentCommandIDs.open, {
      label: 'Show Comments',
      caption: 'Open the comments side panel',
      icon: args => (args['isPalette'] ? undefined : commentsIcon),
      execute: () => shell.activateById(panel.id)
    });

    const cellTarget = (node: HTMLElement | undefined) => {
      const nb = tracker.currentWidget;
      if (!nb) {
        return null;
      }
      const cell =
        nb.content.widgets.find(c => node && c.node.contains(node)) ??
        nb.content.activeCell;
      if (!cell) {
        return null;
      }
      let outputIndex: number | null = null;
      if (node && cell instanceof CodeCell) {
        const i = cell.outputArea.widgets.findIndex(w => w.node.contains(node));
        outputIndex = i >= 0 ? i : null;
      }
      return { nb, target: { cellId: cell.model.id, outputIndex } };
    };
    const startThread = (node: HTMLElement | undefined) => {
      const found = cellTarget(node);
      if (!found) {
        return;
      }
      shell.activateById(panel.id);
      showCurrent();
      panel.startThread(found.target);
    };
    app.commands.addCommand(CommentCommandIDs.commentCell, {
      label: 'Comment on Cell',
      icon: commentsIcon,
      isEnabled: () => !!tracker.activeCell,
      execute: () =>
        startThread(
          app.contextMenuHitTest(n => n.classList.contains('jp-Cell'))
        )
    });
    app.commands.addCommand(CommentCommandIDs.commentOutput, {
      label: 'Comment on Output',
      icon: commentsIcon,
      execute: () =>
        startThread(
          app.contextMenuHitTest(n =>
            n.classList.contains('jp-OutputArea-child')
          )
        )
    });
    const hasSelection = () => {
      const cell = tracker.activeCell;
      return !!cell && selectedRange(cell) !== null;
    };
    app.commands.addCommand(CommentCommandIDs.commentSelection, {
      label: 'Comment on Selection',
      caption:
        "Start a thread on the text selected in the active cell's source",
      icon: args => (args['isPalette'] ? undefined : commentsIcon),
      isEnabled: hasSelection,
      execute: () => {
        const nb = tracker.currentWidget;
        const cell = tracker.activeCell;
        const range = cell ? selectedRange(cell) : null;
        if (!nb || !cell || !range) {
          return;
        }
        shell.activateById(panel.id);
        showCurrent();
        panel.startThread({
          cellId: cell.model.id,
          outputIndex: null,
          textRange: range
        });
      }
    });
    const hasThreads = () => {
      const nb = tracker.currentWidget;
      return !!nb && open.has(nb);
    };
    const exporting =
      (how: 'json' | 'notebook' | 'copy') => async (): Promise<void> => {
        showCurrent();
        await panel.exportThreads(how);
      };
    app.commands.addCommand(CommentCommandIDs.exportJson, {
      label: 'Download Comments as JSON',
      caption: "Download the current notebook's comment threads as a JSON file",
      isEnabled: hasThreads,
      execute: exporting('json')
    });
    app.commands.addCommand(CommentCommandIDs.exportNotebook, {
      label: 'Download Notebook with Comments',
      caption:
        'Download a copy of the current notebook with its threads in its metadata',
      isEnabled: hasThreads,
      execute: exporting('notebook')
    });
    app.commands.addCommand(CommentCommandIDs.saveCopy, {
      label: 'Save Copy of Notebook with Comments',
      caption:
        'Save a copy of the current notebook beside it, with its threads in its metadata',
      isEnabled: () =>
        hasThreads() &&
        (members.me.role === 'editor' || members.me.role === 'owner'),
      execute: exporting('copy')
    });
    if (palette) {
      for (const command of [
        CommentCommandIDs.open,
        CommentCommandIDs.commentCell,
        CommentCommandIDs.commentSelection,
        CommentCommandIDs.exportJson,
        CommentCommandIDs.exportNotebook,
        CommentCommandIDs.saveCopy
      ]) {
        palette.addItem({ command, category: PALETTE_CATEGORY });
      }
    }

    app.contextMenu.addItem({
      command: CommentCommandIDs.commentSelection,
      selector: '.jp-Notebook .jp-Cell .jp-InputArea-editor',
      rank: 11
    });
    app.contextMenu.addItem({
      command: CommentCommandIDs.commentCell,
      selector: '.jp-Notebook .jp-Cell',
      rank: 12
    });
    app.contextMenu.addItem({
      command: CommentCommandIDs.commentOutput,
      selector: '.jp-Notebook .jp-OutputArea-child',
      rank: 12
    });
  }
};
