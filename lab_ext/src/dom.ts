/**
 * Small DOM helpers shared by the panels and dialogs. Text always goes in as text, never as
 * markup: names, bodies and messages are other people's input.
 */
import { MutiraoAPIError } from './handler';

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

/**
 * A failed request as one sentence for the user: the server's message and the HTTP status.
 */
export function describeFailure(error: unknown): string {
  if (error instanceof MutiraoAPIError) {
    return `${error.message} (HTTP ${error.status})`;
  }
  return error instanceof Error ? error.message : String(error);
}
