/**
 * Showing untrusted text: comment bodies as sanitised Markdown, authors as text and colours.
 * Nothing here assigns a string from the server to innerHTML.
 */
import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';

import type { IAuthor } from './api';

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

const CSS_COLOR =
  /^(#[0-9a-f]{3,8}|(rgb|rgba|hsl|hsla)\([0-9.,%\s]+\)|[a-z]{3,20})$/i;

/**
 * `AB` from "Ana Beatriz", `AN` from "ana".
 */
export function initialsOf(author: IAuthor): string {
  if (author.initials) {
    return author.initials.slice(0, 3);
  }
  const words = (author.display_name || author.username)
    .split(/\s+/)
    .filter(w => w.length > 0);
  if (words.length >= 2) {
    return (words[0][0] + words[words.length - 1][0]).toUpperCase();
  }
  return (words[0] ?? '?').slice(0, 2).toUpperCase();
}

/**
 * A stable colour for a user who has none from the server.
 */
export function colorOf(author: IAuthor): string {
  if (author.color && CSS_COLOR.test(author.color.trim())) {
    return author.color.trim();
  }
  let h = 0;
  for (const ch of author.username) {
    h = (h * 31 + ch.charCodeAt(0)) % 360;
  }
  return `hsl(${h}, 55%, 45%)`;
}

/**
 * The author's avatar: their picture when the server gives one, else initials on their colour.
 */
export function avatar(author: IAuthor): HTMLElement {
  const node = document.createElement('span');
  node.className = 'mutirao-Avatar';
  node.title = author.display_name || author.username;
  node.style.backgroundColor = colorOf(author);
  const url = author.avatar_url ?? '';
  if (/^(https?:\/\/|\/)/i.test(url)) {
    const img = document.createElement('img');
    img.alt = '';
    img.src = url;
    img.onerror = () => img.remove();
    node.appendChild(img);
  }
  const initials = document.createElement('span');
  initials.className = 'mutirao-AvatarInitials';
  initials.textContent = initialsOf(author);
  node.appendChild(initials);
  return node;
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

/**
 * A small element with text content only.
 */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}
