/**
 * The versioning plugin: the History panel beside the current file, the diff viewer in the
 * main area, and the commands (palette, file browser context menu) that open them.
 */
import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget } from '@jupyterlab/apputils';
import { IEditorServices } from '@jupyterlab/codeeditor';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISignal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { ConflictView, ConflictsPanel } from './conflicts';
import { branchDialog, commitDialog, credentialsDialog } from './dialogs';
import { DiffView } from './diffview';
import { HistoryPanel, historyIcon } from './history';

export namespace VersioningCommandIDs {
  export const showHistory = 'mutirao-lab:show-history';
  export const commit = 'mutirao-lab:git-commit';
  export const branches = 'mutirao-lab:git-branches';
  export const pull = 'mutirao-lab:git-pull';
  export const push = 'mutirao-lab:git-push';
  export const credentials = 'mutirao-lab:git-credentials';
  export const conflicts = 'mutirao-lab:git-merge-conflicts';
}

/**
 * The server-root-relative path of a main-area widget's document, if it has one.
 */
function documentPath(widget: Widget | null): string | null {
  const context = (widget as { context?: { localPath?: unknown } } | null)
    ?.context;
  return typeof context?.localPath === 'string' ? context.localPath : null;
}

export const versioningPlugin: JupyterFrontEndPlugin<void> = {
  id: 'mutirao-lab:versioning',
  description:
    'History, notebook-aware diffs (nbdime), restore, commit, branches, pull and push.',
  autoStart: true,
  requires: [IRenderMimeRegistry, IEditorServices],
  optional: [ILabShell, ICommandPalette, IDefaultFileBrowser],
  activate: (
    app: JupyterFrontEnd,
    rendermime: IRenderMimeRegistry,
    editorServices: IEditorServices,
    labShell: ILabShell | null,
    palette: ICommandPalette | null,
    fileBrowser: IDefaultFileBrowser | null
  ) => {
    const shell = labShell ?? app.shell;
    const editorFactory = editorServices.factoryService.newInlineEditor.bind(
      editorServices.factoryService
    );
    const readWorking = async (repo: string, path: string) => {
      const full = repo ? `${repo}/${path}` : path;
      const model = await app.serviceManager.contents.get(full, {
        content: true,
        format: 'text',
        type: 'file'
      });
      return String(model.content ?? '');
    };

    const addMain = (content: Widget, prefix: string) => {
      const widget = new MainAreaWidget({ content });
      widget.id = `${prefix}-${Date.now()}`;
      widget.title.label = content.title.label;
      widget.title.caption = content.title.caption;
      widget.title.icon = historyIcon;
      shell.add(widget, 'main');
      shell.activateById(widget.id);
      return widget;
    };
    const showConflict = (repo: string, path: string, resolved: () => void) => {
      const content = new ConflictView({
        repo,
        path,
        rendermime,
        editorFactory,
        resolved: () => {
          resolved();
          void panel.refresh();
        }
      });
      addMain(content, 'mutirao-conflict').addClass('mutirao-ConflictWidget');
      void content.load();
    };
    const openConflicts = (repo: string, branch?: string) => {
      const content = new ConflictsPanel({
        repo,
        branch,
        show: showConflict,
        changed: () => void panel.refresh()
      });
      addMain(content, 'mutirao-conflicts').addClass('mutirao-ConflictsWidget');
      void content.refresh().then(() => panel.refresh());
    };

    const panel = new HistoryPanel({
      openDiff: (repo, path, from, to) => {
        const content = new DiffView({
          repo,
          path,
          from,
          to,
          rendermime,
          editorFactory,
          readWorking: p => readWorking(repo, p)
        });
        const widget = new MainAreaWidget({ content });
        widget.id = `mutirao-diff-${Date.now()}`;
        widget.addClass('mutirao-DiffWidget');
        widget.title.label = content.title.label;
        widget.title.caption = content.title.caption;
        widget.title.icon = historyIcon;
        shell.add(widget, 'main');
        shell.activateById(widget.id);
        void content.load();
      },
      commit: (location, rootPath) => commitDialog(location, rootPath),
      branches: async repo => {
        await branchDialog(repo, openConflicts);
      },
      credentials: credentialsDialog,
      browse: async path => {
        await app.commands.execute('filebrowser:go-to-path', {
          path: `/${path}`
        });
      }
    });
    shell.add(panel, 'right', { rank: 650 });

    // the panel follows the document in focus, and that document across renames; other
    // widgets (the launcher, a diff) keep it
    type Context = {
      localPath?: unknown;
      pathChanged?: ISignal<unknown, string>;
    };
    let watched: Context | null = null;
    // the signal carries the drive's path; the panel works with the local one
    const renamed = () => {
      if (typeof watched?.localPath === 'string') {
        void panel.setFile(watched.localPath);
      }
    };
    const follow = () => {
      const widget = shell.currentWidget;
      const path = documentPath(widget);
      if (path === null) {
        return;
      }
      watched?.pathChanged?.disconnect(renamed);
      watched = (widget as { context?: Context }).context ?? null;
      watched?.pathChanged?.connect(renamed);
      void panel.setFile(path);
    };
    if (labShell) {
      labShell.currentChanged.connect(follow);
    }
    void app.restored.then(follow);

    const showHistory = async (path: string | null) => {
      shell.activateById(panel.id);
      if (path !== null) {
        await panel.setFile(path);
      }
    };
    app.commands.addCommand(VersioningCommandIDs.showHistory, {
      label: args => (args['isPalette'] ? 'Show File History' : 'Show History'),
      caption: "Show the file's commits and snapshots",
      icon: args => (args['isPalette'] ? undefined : historyIcon),
      execute: args => {
        let path = typeof args['path'] === 'string' ? args['path'] : null;
        if (path === null && !args['isPalette'] && fileBrowser) {
          const item = fileBrowser.selectedItems().next();
          if (item && !item.done && item.value.type !== 'directory') {
            path = item.value.path;
          }
        }
        if (path === null) {
          path = documentPath(shell.currentWidget);
        }
        return showHistory(path);
      }
    });
    const withPanel = (run: () => Promise<void>) => async () => {
      follow();
      shell.activateById(panel.id);
      await run();
    };
    app.commands.addCommand(VersioningCommandIDs.commit, {
      label: 'Commit Current File…',
      execute: withPanel(() => panel.commitDialog())
    });
    app.commands.addCommand(VersioningCommandIDs.branches, {
      label: 'Git Branches…',
      execute: withPanel(() => panel.branchDialog())
    });
    app.commands.addCommand(VersioningCommandIDs.pull, {
      label: 'Git Pull',
      execute: withPanel(() => panel.remote('pull'))
    });
    app.commands.addCommand(VersioningCommandIDs.push, {
      label: 'Git Push',
      execute: withPanel(() => panel.remote('push'))
    });

    app.commands.addCommand(VersioningCommandIDs.conflicts, {
      label: 'Git Merge Conflicts',
      execute: () => {
        follow();
        if (panel.location) {
          openConflicts(panel.location.repo);
        }
      }
    });

    app.commands.addCommand(VersioningCommandIDs.credentials, {
      label: 'Git Credentials…',
      execute: () => credentialsDialog()
    });

    if (palette) {
      for (const command of [
        VersioningCommandIDs.credentials,
        VersioningCommandIDs.showHistory,
        VersioningCommandIDs.commit,
        VersioningCommandIDs.branches,
        VersioningCommandIDs.conflicts,
        VersioningCommandIDs.pull,
        VersioningCommandIDs.push
      ]) {
        palette.addItem({
          command,
          category: 'Versioning',
          args: { isPalette: true }
        });
      }
    }
    app.contextMenu.addItem({
      command: VersioningCommandIDs.showHistory,
      selector: '.jp-DirListing-item[data-isdir="false"]',
      rank: 20
    });
  }
};
