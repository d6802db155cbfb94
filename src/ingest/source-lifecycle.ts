// LiveSource's states and the one table of moves between them, like the SkyLine's
// (src/lifecycle.ts): a move that is not in the table is a bug in the library and throws, so a
// late callback of a finished connection cannot bring a stopped source back to 'streaming'.
import type { LiveSourceState } from './live-source-types.js';

/** state -> the states it may go to. */
export const SOURCE_TRANSITIONS: Readonly<Record<LiveSourceState, readonly LiveSourceState[]>> = {
  stopped: ['connecting', 'closed'],
  // A file may end before its first unit is seen as streaming; a start may fail for good.
  connecting: ['streaming', 'reconnecting', 'ended', 'error', 'stopped', 'closed'],
  streaming: ['reconnecting', 'ended', 'error', 'stopped', 'closed'],
  reconnecting: ['streaming', 'connecting', 'ended', 'error', 'stopped', 'closed'],
  // start() again after the end of a file or a failure.
  ended: ['connecting', 'stopped', 'closed'],
  error: ['connecting', 'stopped', 'closed'],
  closed: [],
};

/** Throws when the table has no move from `from` to `to` (a bug, never a user error). */
export function checkSourceTransition(from: LiveSourceState, to: LiveSourceState): void {
  if (!SOURCE_TRANSITIONS[from].includes(to)) throw new Error(`gst-skyline bug: no LiveSource transition from '${from}' to '${to}'`);
}
