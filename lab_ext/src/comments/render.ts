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
 * "5 min ago", or the date for older times; the exact time is in the title.
 */
export function timeLabel(iso: string): HTMLElement {
  const node = document.createElement('time');
  node.className = 'mutirao-Time';
  node.dateTime = iso;
  const date = new Date(iso);
  node.title = date.toLocaleString();
  const seconds = (Date.now() - date.getTime()) / 1000;
  if (seconds < 60) {
    node.textContent = 'just now';
  } else if (seconds < 3600) {
    node.textContent = `${Math.floor(seconds / 60)} min ago`;
  } else if (seconds < 86400) {
    node.textContent = `${Math.floor(seconds / 3600)} h ago`;
  } else {
    node.textContent = date.toLocaleDateString();
  }
  return node;
}
