/**
 * The versioning REST API (`<baseUrl>mutirao/api/git/*`), typed. See
 * mutirao_lab/openapi.yaml for every field.
 */
import { requestAPI } from '../handler';

/**
 * The version name of the file on disk (the working copy) in diffs.
 */
export const WORKING = 'WORKING';

export interface IPerson {
  name: string;
  email: string;
}

/**
 * One entry of a history: a commit, or a snapshot (a commit on a hidden ref).
 */
export interface ICommit {
  id: string;
  parents: string[];
  author: IPerson;
  authored_at: number;
  committer: IPerson;
  committed_at: number;
  message: string;
  edited_by?: IPerson[];
}

export interface ILogPage {
  commits: ICommit[];
  head: string | null;
  skip: number;
  limit: number;
  more: boolean;
}

export interface ISnapshotPage {
  branch: string | null;
  snapshots: ICommit[];
  skip: number;
  limit: number;
  more: boolean;
}

export interface IStatusFile {
  path: string;
  index: string;
  worktree: string;
  from?: string;
}

export interface IStatus {
  branch: string | null;
  upstream: string | null;
  ahead: number;
  behind: number;
  head: string | null;
  /** The commit being merged while a merge waits for its conflicts, else null. */
  merge_head: string | null;
  files: IStatusFile[];
}

export interface IBranch {
  name: string;
  commit: string;
  upstream: string | null;
  current: boolean;
}

export interface IBranches {
  current: string | null;
  branches: IBranch[];
}

/**
 * Where a file of the server lives: its repository's folder and its path inside it.
 */
export interface ILocation {
  repo: string;
  path: string;
}

export interface INotebookDiff {
  path: string;
  kind: 'notebook';
  from: { rev: string; blob: string };
  to: { rev: string; blob: string };
  base: any;
  diff: any[];
}

export interface ITextDiff {
  path: string;
  kind: 'text';
  from: { rev: string; blob: string };
  to: { rev: string; blob: string };
  unified: string[];
}

export type IDiff = INotebookDiff | ITextDiff;

export interface IShown {
  path: string;
  rev: string;
  blob: string;
  size: number;
  format: 'json' | 'text' | 'base64';
  type: string;
  content: any;
}

function query(params: Record<string, string | number | boolean | null>) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined) {
      q.set(key, String(value));
    }
  }
  return `?${q.toString()}`;
}

function post<T>(endPoint: string, body: unknown): Promise<T> {
  return requestAPI<T>(`git/${endPoint}`, {
    method: 'POST',
    body: JSON.stringify(body)
  });
}

/**
 * The repository holding a file (a root-relative path), or a 404 error when it is in none.
 */
export function locate(path: string): Promise<ILocation> {
  return requestAPI<ILocation>(`git/locate${query({ path })}`);
}

export function log(
  repo: string,
  path: string | null,
  skip = 0,
  limit = 25
): Promise<ILogPage> {
  return requestAPI<ILogPage>(`git/log${query({ repo, path, skip, limit })}`);
}

export function snapshots(
  repo: string,
  path: string | null,
  skip = 0,
  limit = 25
): Promise<ISnapshotPage> {
  return requestAPI<ISnapshotPage>(
    `git/snapshots${query({ repo, path, skip, limit })}`
  );
}

export function status(repo: string): Promise<IStatus> {
  return requestAPI<IStatus>(`git/status${query({ repo })}`);
}

export function show(repo: string, rev: string, path: string): Promise<IShown> {
  return requestAPI<IShown>(`git/show${query({ repo, rev, path })}`);
}

export function diff(
  repo: string,
  path: string,
  from: string,
  to: string,
  options: { ignoreOutputs?: boolean } = {}
): Promise<IDiff> {
  return requestAPI<IDiff>(
    `git/diff${query({
      repo,
      path,
      from,
      to,
      ignore_outputs: options.ignoreOutputs ? 'true' : null
    })}`
  );
}

/**
 * Make a folder (`''`: the server's own) a repository: the default `.gitignore` and a first
 * commit authored by the current user.
 */
export function init(
  repo: string
): Promise<{ repo: string; branch: string; commit: string; author: IPerson }> {
  return post('init', { repo });
}

/**
 * Clone an https remote into a new folder of the server.
 */
export function clone(
  url: string,
  repo: string
): Promise<{ repo: string; url: string; branch: string | null }> {
  return post('clone', { url, repo });
}

export function commit(
  repo: string,
  paths: string[],
  message: string
): Promise<{ id: string; author: IPerson; message: string }> {
  return post('commit', { repo, paths, message });
}

export function restore(
  repo: string,
  path: string,
  rev: string
): Promise<{ path: string; rev: string; blob: string }> {
  return post('restore', { repo, path, rev });
}

export function promote(
  repo: string,
  id: string,
  path: string,
  message: string
): Promise<{ id: string; snapshot: string; message: string }> {
  return post('snapshots/promote', { repo, id, path, message });
}

export function branches(repo: string): Promise<IBranches> {
  return requestAPI<IBranches>(`git/branches${query({ repo })}`);
}

export function createBranch(
  repo: string,
  name: string,
  start: string | null = null
): Promise<{ name: string; commit: string }> {
  return post('branches', { repo, name, start });
}

export function deleteBranch(
  repo: string,
  name: string,
  force = false
): Promise<{ deleted: string }> {
  return requestAPI(
    `git/branches${query({ repo, name, force: force ? 'true' : null })}`,
    { method: 'DELETE' }
  );
}

export function checkout(
  repo: string,
  branch: string
): Promise<{ current: string; changed: string[] }> {
  return post('checkout', { repo, branch });
}

export function push(
  repo: string,
  remote = 'origin',
  branch: string | null = null
): Promise<{ remote: string; branch: string }> {
  return post('push', { repo, remote, branch });
}

export function pull(
  repo: string,
  remote = 'origin',
  branch: string | null = null
): Promise<{ before: string; after: string; changed: string[] }> {
  return post('pull', { repo, remote, branch });
}

/**
 * The hosts the current user stored credentials for (never the secrets).
 */
export function credentialHosts(): Promise<{
  hosts: { host: string; username: string }[];
}> {
  return requestAPI('git/credentials');
}

export function setCredentials(
  host: string,
  username: string,
  password: string
): Promise<{ host: string; username: string }> {
  return requestAPI('git/credentials', {
    method: 'PUT',
    body: JSON.stringify({ host, username, password })
  });
}

export function forgetCredentials(host: string): Promise<void> {
  return requestAPI(`git/credentials${query({ host })}`, {
    method: 'DELETE'
  });
}

/**
 * The three sides of a conflicted file (index stages 1-3); a side the file is missing from is
 * null. Notebooks come with nbdime's merge decisions for its merge widget.
 */
export interface IConflict {
  path: string;
  base: any;
  local: any;
  remote: any;
  decisions?: any[];
}

/**
 * Merge a branch into the current one. A merge with conflicts fails with a 409 whose
 * message names the files; `status` lists them (index or worktree `U`).
 */
export function merge(
  repo: string,
  branch: string
): Promise<{ before: string; after: string; changed: string[] }> {
  return post('merge', { repo, branch });
}

export function mergeAbort(
  repo: string
): Promise<{ changed: string[]; head: string }> {
  return post('merge/abort', { repo });
}

export function conflict(repo: string, path: string): Promise<IConflict> {
  return requestAPI<IConflict>(`git/conflict${query({ repo, path })}`);
}

/**
 * What `resolve` answers: the files still conflicted, and whether the notebook's open
 * collaborative document (every connected client) got the merged notebook.
 */
export interface IResolution {
  path: string;
  staged: boolean;
  conflicts: string[];
  live: boolean;
}

/**
 * Write the merged notebook (nbdime's `NotebookMergeModel.serialize()`) as the conflicted
 * file and mark its conflict resolved (staged).
 */
export function resolve(
  repo: string,
  path: string,
  notebook: unknown
): Promise<IResolution> {
  return post('resolve', { repo, path, notebook });
}

/**
 * Whether a status entry is an unmerged (conflicted) file.
 */
export function isConflicted(file: IStatusFile): boolean {
  const pair = file.index + file.worktree;
  return pair.includes('U') || pair === 'AA' || pair === 'DD';
}
