/**
 * Showing who made a version and when: avatars (../identity) and dates. Everything from the
 * server is set as text, never as HTML.
 */
import { MutiraoAPIError } from '../handler';
import { avatar as sharedAvatar } from '../identity';
import type { IPerson } from './api';

/**
 * The user name a version's author most likely has: the one in Mutirão's own no-reply
 * address, else the e-mail's local part (the demo's and most organisations' convention).
 */
export function usernameOf(person: IPerson): string {
  const email = person.email || '';
  const at = email.lastIndexOf('@');
  return at > 0 ? email.slice(0, at) : email || person.name;
}

/**
 * An avatar: the person's initials on their colour (the lab's shared avatar, coloured by the
 * user name, as presence and comments are), with their name and e-mail as tooltip.
 */
export function avatar(person: IPerson): HTMLElement {
  return sharedAvatar(
    { username: usernameOf(person), display_name: person.name },
    {
      title: `${person.name} <${person.email}>`,
      className: 'mutirao-VersionAvatar'
    }
  );
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
