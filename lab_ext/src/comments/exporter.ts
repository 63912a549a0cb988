/**
 * Taking a notebook's threads away: as a JSON download, as a downloaded copy of the notebook
 * with the threads in its metadata, or as such a copy saved beside the notebook.
 */
import { PathExt } from '@jupyterlab/coreutils';

import * as api from './api';

/**
 * `review` from `folder/review.ipynb`.
 */
function stem(path: string): string {
  return PathExt.basename(path, PathExt.extname(path)) || 'notebook';
}

/**
 * Hand `text` to the browser as a download named `name`.
 */
function download(name: string, type: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.appendChild(a);
  a.click();
  a.remove();
  // the click has started the download; the URL can go once it has been read
  window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * Download the threads of the notebook `fileId` (at `path`) as `<name>-comments.json`.
 * Answers how many threads went.
 */
export async function downloadThreads(
  fileId: string,
  path: string
): Promise<number> {
  const data = await api.exportThreads(fileId, 'json');
  download(
    `${stem(path)}-comments.json`,
    'application/json',
    JSON.stringify(data, null, 1)
  );
  return data.threads.length;
}

/**
 * Download a copy of the notebook with its threads in `metadata.mutirao.comments`, as
 * `<name>-with-comments.ipynb`; the notebook on the server is not changed.
 */
export async function downloadCommentedCopy(
  fileId: string,
  path: string
): Promise<void> {
  const notebook = await api.exportThreads(fileId, 'notebook');
  download(
    `${stem(path)}-with-comments.ipynb`,
    'application/x-ipynb+json',
    JSON.stringify(notebook, null, 1)
  );
}
