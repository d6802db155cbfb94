// The SkyLine lifecycle: the public states, the one table of transitions between them, and the
// chain that runs commands (start, stop, close, restart) one after another. A transition that is
// not in the table is a bug in the library and throws; a late callback therefore cannot move a
// finished session back to 'streaming'.

export type SkyLineState = 'stopped' | 'opening' | 'warmup' | 'streaming' | 'reconnecting' | 'stopping' | 'error' | 'closed';

/** state -> the states it may go to. */
export const TRANSITIONS: Readonly<Record<SkyLineState, readonly SkyLineState[]>> = {
  stopped: ['opening', 'warmup', 'closed'],
  // warmup -> opening when the warmup frames measured the stream; stop or a failure end it.
  warmup: ['opening', 'stopping', 'error'],
  opening: ['streaming', 'reconnecting', 'stopping', 'error'],
  streaming: ['reconnecting', 'stopping', 'error'],
  reconnecting: ['streaming', 'stopping', 'error'],
  stopping: ['stopped'],
  error: ['stopping'],
  closed: [],
};

export class Lifecycle {
  #state: SkyLineState = 'stopped';

  constructor(private readonly changed: (next: SkyLineState, previous: SkyLineState) => void) {}

  get state(): SkyLineState {
    return this.#state;
  }

  /** Moves to `next`; throws when the table does not allow it (a bug, never a user error). */
  to(next: SkyLineState): void {
    const previous = this.#state;
    if (!TRANSITIONS[previous].includes(next)) {
      throw new Error(`gst-skyline bug: no transition from '${previous}' to '${next}'`);
    }
    this.#state = next;
    this.changed(next, previous);
  }

  /** One of `states`? */
  is(...states: SkyLineState[]): boolean {
    return states.includes(this.#state);
  }
}

/**
 * Runs commands one at a time, in call order. A command's failure goes to its caller only;
 * the chain carries on with the next one.
 */
export class CommandChain {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  /** Commands queued or running. */
  get busy(): boolean {
    return this.pending > 0;
  }

  run<T>(command: () => Promise<T>): Promise<T> {
    this.pending++;
    const result = this.tail.then(command);
    this.tail = result.then(
      () => this.pending--,
      () => this.pending--,
    );
    return result;
  }
}
