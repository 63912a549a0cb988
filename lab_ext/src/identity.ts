/**
 * How a person looks wherever the lab shows them (the Rooms panel, comments, versions, the
 * share dialog): their picture, or their initials on their colour, as the hub's `user_info`
 * gives them (ARCHITECTURE.md: identity end to end). Everything here comes from other people
 * and is set as text, attributes or a checked URL, never as HTML.
 */

/** What the lab may know of a person; only `username` is always there. */
export interface IIdentityLike {
  username: string;
  display_name?: string | null;
  initials?: string | null;
  color?: string | null;
  avatar_url?: string | null;
}

// a colour value or a theme variable (jupyter-collaboration's `var(--jp-collaborator-color1)`)
const CSS_COLOR =
  /^(#[0-9a-f]{3,8}|(rgb|rgba|hsl|hsla)\([0-9.,%\s]+\)|[a-z]{3,20}|var\(--[\w-]+\))$/i;

/** An inline avatar larger than this is not shown (initials are). */
export const MAX_INLINE_AVATAR = 64 * 1024;
const DATA_IMAGE =
  /^data:image\/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/]+={0,2}$/;
const IMAGE_PATH =
  /^\/[A-Za-z0-9._~%!$&'()*+,;=:@/-]*\.(png|jpe?g|gif|webp|svg)$/i;

/**
 * `url` when it is an avatar a browser may load without it doing anything or telling another
 * host who looks at whom: an inline raster image, or an image file under the hub's own prefix.
 * Null otherwise (initials are shown). The same rule as the room server's awareness
 * (mutirao_lab.rooms.awareness.safe_avatar); a test runs both on the same URLs.
 */
export function safeAvatar(
  url: unknown,
  hubPrefix: string = pageHubPrefix()
): string | null {
  if (typeof url !== 'string' || !url) {
    return null;
  }
  if (url.startsWith('data:')) {
    return url.length <= MAX_INLINE_AVATAR && DATA_IMAGE.test(url) ? url : null;
  }
  const prefix = hubPrefix.endsWith('/') ? hubPrefix : hubPrefix + '/';
  if (
    url.startsWith(prefix) &&
    !url.startsWith('//') &&
    IMAGE_PATH.test(url) &&
    !url.includes('/../') &&
    !url.includes('/./') &&
    !url.toLowerCase().includes('%2e')
  ) {
    return url;
  }
  return null;
}

let _hubPrefix: string | null = null;

/** The hub's prefix from the page's JupyterLab config (`/hub/` when it has none). */
function pageHubPrefix(): string {
  if (_hubPrefix === null) {
    _hubPrefix = '/hub/';
    try {
      const node = document.getElementById('jupyter-config-data');
      const value = node
        ? JSON.parse(node.textContent || '{}').hubPrefix
        : null;
      if (typeof value === 'string' && value.startsWith('/')) {
        _hubPrefix = value;
      }
    } catch {
      // no page config: keep the default
    }
  }
  return _hubPrefix;
}

/** The name to show: the display name, else the user name. */
export function nameOf(who: IIdentityLike): string {
  return who.display_name || who.username;
}

/**
 * `AB` from "Ana Beatriz", `AN` from "ana"; the hub's own initials when it gives them.
 */
export function initialsOf(who: IIdentityLike): string {
  if (who.initials) {
    return who.initials.slice(0, 3);
  }
  const words = nameOf(who)
    .split(/\s+/)
    .filter(w => w.length > 0);
  if (words.length >= 2) {
    return (words[0][0] + words[words.length - 1][0]).toUpperCase();
  }
  return (words[0] ?? '?').slice(0, 2).toUpperCase();
}

/**
 * The colours people get, with enough contrast on JupyterLab's light and dark themes: the
 * same list, in the same order, as `PALETTE` in hub_ext's `mutirao_hub/auth/identity.py`.
 */
export const PALETTE = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#9467bd',
  '#ff7f0e',
  '#17becf',
  '#8c564b',
  '#e377c2',
  '#bcbd22',
  '#7f7f7f'
] as const;

/**
 * A user name's colour, computed exactly as the hub's `colour_for` does (32-bit FNV-1a of the
 * name's UTF-8 bytes, modulo the palette), so a person has one colour in presence, History and
 * comments even where the hub's colour is not at hand.
 */
export function colourFor(username: string): string {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(username)) {
    h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  }
  return PALETTE[h % PALETTE.length];
}

/**
 * The person's colour from the hub when it is a plain CSS colour, else their user name's
 * colour (`colourFor`), so one person keeps one colour everywhere.
 */
export function colorOf(who: IIdentityLike): string {
  const color = (who.color ?? '').trim();
  if (color && CSS_COLOR.test(color)) {
    return color;
  }
  return colourFor(who.username);
}

export interface IAvatarOptions {
  /** The tooltip; the person's name by default. */
  title?: string;
  /** More classes for the root node (say, to tell a version's avatar apart). */
  className?: string;
}

/**
 * A person's round avatar: their picture when the hub gives one (initials show if it fails to
 * load), else their initials on their colour.
 */
export function avatar(
  who: IIdentityLike,
  options: IAvatarOptions = {}
): HTMLElement {
  const node = document.createElement('span');
  node.className = options.className
    ? `mutirao-Avatar ${options.className}`
    : 'mutirao-Avatar';
  node.title = options.title ?? nameOf(who);
  node.style.backgroundColor = colorOf(who);
  const url = safeAvatar(who.avatar_url);
  if (url) {
    const img = document.createElement('img');
    img.className = 'mutirao-AvatarImage';
    img.alt = '';
    img.src = url;
    img.referrerPolicy = 'no-referrer';
    img.addEventListener('error', () => img.remove());
    node.appendChild(img);
  }
  const initials = document.createElement('span');
  initials.className = 'mutirao-AvatarInitials';
  initials.textContent = initialsOf(who);
  node.appendChild(initials);
  return node;
}
