// What every destination keeps the same way: its state, its counters and its last error, and
// the events that report them. Destinations hold one (composition, not a base class).
import type { EventEmitter } from 'node:events';
import { DestinationError, type DestinationEvents, type DestinationReconnect, type DestinationState, type DestinationStats } from './destination.js';

export class DestinationStatus {
  #state: DestinationState = 'idle';
  bytesOut = 0;
  unitsIn = 0;
  unitsDropped = 0;
  reconnects = 0;
  lastError: string | undefined;

  /** An ES private field: a destination serialized or inspected does not loop through it. */
  readonly #owner: EventEmitter<DestinationEvents>;

  constructor(owner: EventEmitter<DestinationEvents>, readonly kind: string, readonly name: string) {
    this.#owner = owner;
  }

  get state(): DestinationState {
    return this.#state;
  }

  is(...states: DestinationState[]): boolean {
    return states.includes(this.#state);
  }

  /** Moves to `next` and emits 'state' (nothing when already there). */
  to(next: DestinationState): void {
    const previous = this.#state;
    if (previous === next) return;
    this.#state = next;
    this.#owner.emit('state', next, previous);
  }

  /** A new open(): counters start again. */
  reset(): void {
    this.bytesOut = 0;
    this.unitsIn = 0;
    this.unitsDropped = 0;
    this.reconnects = 0;
    this.lastError = undefined;
  }

  /**
   * Reports `err` as this destination's: an 'error' event when someone listens (the producer it
   * is attached to always does), never an unhandled 'error' that would crash the process.
   */
  error(err: Error): DestinationError {
    const e = err instanceof DestinationError ? err : new DestinationError(this.name, err);
    this.lastError = e.message;
    if (this.#owner.listenerCount('error') > 0) this.#owner.emit('error', e);
    return e;
  }

  reconnecting(info: DestinationReconnect): void {
    this.reconnects++;
    this.#owner.emit('reconnect', info);
  }

  stats(extra: { behindMs?: number; backlogBytes?: number } = {}): DestinationStats {
    return {
      name: this.name,
      kind: this.kind,
      state: this.#state,
      bytesOut: this.bytesOut,
      unitsIn: this.unitsIn,
      unitsDropped: this.unitsDropped,
      reconnects: this.reconnects,
      behindMs: extra.behindMs ?? 0,
      backlogBytes: extra.backlogBytes ?? 0,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
    };
  }
}

/**
 * Passes access units from a keyframe on: a destination starting, or starting again after a
 * lost connection, must not hand a decoder pictures that refer to ones it never got.
 */
export class KeyframeGate {
  private waiting = true;

  /** True when `keyframe` may go out; false (drop it) while waiting for a keyframe. */
  pass(keyframe: boolean): boolean {
    if (this.waiting && !keyframe) return false;
    this.waiting = false;
    return true;
  }

  /** Waits for the next keyframe again. */
  reset(): void {
    this.waiting = true;
  }

  get open(): boolean {
    return !this.waiting;
  }
}
