/**
 * The one token Mutirão takes from jupyter-collaboration's federated extension.
 *
 * `@jupyter/collaborative-drive` is not a dependency: it is consumed from the share scope, where
 * `@jupyter/collaboration-extension` provides it (see `sharedPackages` in package.json), so
 * nothing of jupyter-collaboration is bundled twice and the token is the very object the
 * collaboration extension provides.
 */
declare module '@jupyter/collaborative-drive' {
  import type { Token } from '@lumino/coreutils';
  import type { Awareness } from 'y-protocols/awareness';

  /** The awareness shared by every lab on the server (room "JupyterLab:globalAwareness"). */
  export const IGlobalAwareness: Token<Awareness>;
}
