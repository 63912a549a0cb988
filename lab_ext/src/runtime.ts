import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';

import { requestAPI } from './handler';

/**
 * Response of `GET <baseUrl>mutirao/api/runtime`.
 */
export interface IRuntimeInfo {
  /** When the hub stops this server (epoch seconds), or null without a maximum runtime. */
  stop_at: number | null;
  /** How many seconds before the stop the first warning is shown. */
  warning_s: number;
  /** The server's clock (epoch seconds), to correct for the browser's. */
  now: number;
}

/** The last warning comes this many seconds before the stop. */
export const LAST_WARNING_S = 60;

/**
 * The stop time as a wall-clock time, to the second, with its time zone.
 */
export function formatStopTime(stopAtMs: number): string {
  return new Intl.DateTimeFormat(undefined, {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hour12: false,
    timeZoneName: 'short'
  }).format(new Date(stopAtMs));
}

/**
 * The warning's words, for `secondsLeft` seconds before a stop at `stopAtMs`.
 */
export function warningMessage(stopAtMs: number, secondsLeft: number): string {
  const at = formatStopTime(stopAtMs);
  if (secondsLeft <= LAST_WARNING_S + 1) {
    return (
      `This server stops in 1 minute, at ${at}: it reaches the maximum runtime ` +
      'of its profile. Save your work now.'
    );
  }
  const minutes = Math.round(secondsLeft / 60);
  return (
    `This server stops at ${at} (in ${minutes} minutes): it reaches the ` +
    'maximum runtime of its profile. Save your work.'
  );
}

/**
 * Schedule the warnings: `warning_s` before the stop, and again one minute before.
 * A warning whose time has passed when the page loads is shown at once, unless a
 * later one is already due (only the most urgent is shown).
 */
export function scheduleWarnings(
  info: IRuntimeInfo,
  show: (message: string) => void,
  clientNowMs: number = Date.now()
): number[] {
  if (info.stop_at === null || !Number.isFinite(info.stop_at)) {
    return [];
  }
  // the server's clock decides: shift the stop time into the browser's clock
  const skewMs = clientNowMs - info.now * 1000;
  const stopAtMs = info.stop_at * 1000 + skewMs;
  const marks = [info.warning_s, LAST_WARNING_S]
    .filter(s => s >= LAST_WARNING_S)
    .filter((s, i, all) => all.indexOf(s) === i)
    .sort((a, b) => b - a);
  const timers: number[] = [];
  marks.forEach((secondsBefore, i) => {
    const due = stopAtMs - secondsBefore * 1000;
    const next = marks[i + 1];
    if (next !== undefined && clientNowMs >= stopAtMs - next * 1000) {
      return; // a more urgent warning is already due
    }
    if (clientNowMs >= stopAtMs) {
      return;
    }
    const delay = Math.max(0, due - clientNowMs);
    timers.push(
      window.setTimeout(() => {
        const left = (stopAtMs - (clientNowMs + delay)) / 1000;
        show(warningMessage(info.stop_at! * 1000, left));
      }, delay)
    );
  });
  return timers;
}

/**
 * Warns before the hub stops the server at its profile's maximum runtime.
 */
export const runtimePlugin: JupyterFrontEndPlugin<void> = {
  id: 'mutirao-lab:runtime',
  description: 'Warns before the hub stops the server at its maximum runtime.',
  autoStart: true,
  activate: (app: JupyterFrontEnd) => {
    void requestAPI<IRuntimeInfo>('runtime')
      .then(info =>
        scheduleWarnings(info, message => {
          Notification.warning(message, { autoClose: false });
        })
      )
      .catch(error => {
        // an older server extension, or no hub: nothing to warn about
        console.warn('Mutirão: could not read the server runtime', error);
      });
  }
};
