/**
 * Showing untrusted text: comment bodies as sanitised Markdown, times and labels as text
 * (authors' avatars are the lab's shared ones, from ../identity).
 * Nothing here assigns a string from the server to innerHTML.
 */
import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';

/**
 * Render a comment body into `host` with JupyterLab's Markdown renderer. The model is
 * untrusted, so the renderer passes the HTML through JupyterLab's sanitizer (no scripts, no
 * event handlers) and never runs scripts. Without a renderer, the body is shown as text.
 */
export async function renderBody(
  rendermime: IRenderMimeRegistry | null,
  body: string,
  host: HTMLElement
): Promise<void> {
  if (!rendermime) {
    host.textContent = body;
    host.classList.add('mutirao-mod-plain');
    return;
  }
  const renderer = rendermime.createRenderer('text/markdown');
  const model = new MimeModel({
    data: { 'text/markdown': body },
    trusted: false
  });
  await renderer.renderModel(model);
  host.replaceChildren(renderer.node);
}

/**
 * "5 min ago", or the date for older times; the exact time is in the title. The text follows
 * the clock through `refreshTimes`.
 */
export function timeLabel(iso: string): HTMLElement {
  const node = document.createElement('time');
  node.className = 'mutirao-Time';
  node.dateTime = iso;
  node.title = new Date(iso).toLocaleString();
  setTimeText(node);
  return node;
}

function setTimeText(node: HTMLTimeElement, now = Date.now()): void {
  const date = new Date(node.dateTime);
  const seconds = (now - date.getTime()) / 1000;
  let text: string;
  if (seconds < 60) {
    text = 'just now';
  } else if (seconds < 3600) {
    text = `${Math.floor(seconds / 60)} min ago`;
  } else if (seconds < 86400) {
    text = `${Math.floor(seconds / 3600)} h ago`;
  } else {
    text = date.toLocaleDateString();
  }
  if (node.textContent !== text) {
    node.textContent = text;
  }
}

/** Bring every time label under `root` up to now ("just now" becomes "1 min ago"...). */
export function refreshTimes(root: HTMLElement): void {
  const now = Date.now();
  root
    .querySelectorAll<HTMLTimeElement>('time.mutirao-Time')
    .forEach(node => setTimeText(node, now));
}
