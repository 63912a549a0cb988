/**
 * Showing who made a version and when: initials avatars, colours and dates. Everything from
 * the server is set as text, never as HTML.
 */
import { MutiraoAPIError } from '../handler';
import type { IPerson } from './api';

/**
 * `AS` from "Ana Souza", `AN` from "ana".
 */
export function initialsOf(person: IPerson): string {
  const words = (person.name || person.email)
    .split(/\s+/)
    .filter(w => w.length > 0);
  if (words.length >= 2) {
    return (words[0][0] + words[words.length - 1][0]).toUpperCase();
  }
  return (words[0] ?? '?').slice(0, 2).toUpperCase();
}

/**
 * A stable colour per e-mail address, so one person keeps one colour everywhere.
 */
export function colorOf(person: IPerson): string {
  let h = 0;
  for (const ch of person.email || person.name) {
    h = (h * 31 + ch.charCodeAt(0)) % 360;
  }
  return `hsl(${h}, 55%, 45%)`;
}

/**
 * An avatar: the person's initials on their colour, with their name and e-mail as tooltip.
 */
export function avatar(person: IPerson): HTMLElement {
  const node = document.createElement('span');
  node.className = 'mutirao-VersionAvatar';
  node.textContent = initialsOf(person);
  node.style.backgroundColor = colorOf(person);
  node.title = `${person.name} <${person.email}>`;
  return node;
}

/**
 * "3 minutes ago" for recent versions, the local date and time otherwise.
 */
export function when(seconds: number, now = Date.now()): string {
  const delta = Math.round(now / 1000 - seconds);
  if (delta < 60) {
    return 'just now';
  }
  if (delta < 3600) {
    const m = Math.floor(delta / 60);
    return `${m} minute${m === 1 ? '' : 's'} ago`;
  }
  if (delta < 86400) {
    const h = Math.floor(delta / 3600);
    return `${h} hour${h === 1 ? '' : 's'} ago`;
  }
  return new Date(seconds * 1000).toLocaleString();
}

/**
 * A failure as the sentence to show: the server's own message for its 4xx and 5xx answers.
 */
export function describeError(error: unknown): string {
  if (error instanceof MutiraoAPIError) {
    return error.message || `the server answered ${error.status}`;
  }
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}
