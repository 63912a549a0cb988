import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/**
 * Error raised when the Mutirão server extension answers with a non-2xx status.
 */
export class MutiraoAPIError extends Error {
  /**
   * Create a new API error.
   *
   * @param status - HTTP status code of the response
   * @param message - Human readable message (from a JSON `{"message": ...}` body if any)
   * @param response - The raw response
   */
  constructor(
    readonly status: number,
    message: string,
    readonly response?: Response
  ) {
    super(message);
    this.name = 'MutiraoAPIError';
  }
}

/**
 * Call the Mutirão server extension API.
 *
 * @param endPoint - API path relative to `<baseUrl>mutirao/api/`
 * @param init - Initial values for the request
 * @returns The decoded JSON response body (or the raw text if it is not JSON)
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {}
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const requestUrl = URLExt.join(settings.baseUrl, 'mutirao', 'api', endPoint);

  let response: Response;
  try {
    response = await ServerConnection.makeRequest(requestUrl, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }

  const text = await response.text();
  let data: unknown = text;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      // Not JSON: keep the raw text.
    }
  }

  if (!response.ok) {
    // Prefer a JSON `{"message": ...}` body (jupyter_server's APIHandler
    // format), then a short plain-text body, then the HTTP status text.
    const contentType = response.headers.get('Content-Type') ?? '';
    let message = response.statusText || 'Request failed';
    if (
      text.length > 0 &&
      text.length <= 200 &&
      !contentType.includes('html')
    ) {
      message = text;
    }
    if (
      data !== null &&
      typeof data === 'object' &&
      typeof (data as { message?: unknown }).message === 'string'
    ) {
      message = (data as { message: string }).message;
    }
    throw new MutiraoAPIError(response.status, message, response);
  }

  return data as T;
}
