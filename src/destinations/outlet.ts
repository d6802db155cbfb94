// One attached destination as its producer sees it: the keyframe it starts at (pre-roll from
// the history, or the next one), and the bounded backlog of units it has not taken yet. A
// destination that stalls only ever fills its own backlog; over budget, the oldest units go a
// whole GOP at a time, so what it gets next still decodes.
import type { AccessUnit } from '../h264/access-unit.js';
import type { Destination, DestinationStats } from './destination.js';
import { unitBytes } from './history.js';
import { KeyframeGate } from './status.js';

export interface BacklogLimits {
  /** Most bytes waiting for the destination. */
  bytes: number;
  /** Longest capture-time span waiting, ms. */
  ms: number;
}

export class Outlet {
  private backlog: AccessUnit[] = [];
  private head = 0;
  private backlogBytes = 0;
  private readonly gate = new KeyframeGate();
  /** Units the destination never got: over budget, or after it failed. */
  private dropped = 0;
  private waitingDrain = false;
  private open = false;
  private closed = false;
  private flushed: (() => void) | undefined;
  private readonly onDrain = () => {
    this.waitingDrain = false;
    this.flush();
  };

  constructor(
    readonly destination: Destination,
    private readonly limits: BacklogLimits,
    /** Units to start with (pre-roll from the history, starting at a keyframe). */
    preRoll: AccessUnit[],
    /** A write that threw: the destination broke its contract. */
    private readonly broken: (err: Error) => void,
  ) {
    for (const au of preRoll) this.offer(au);
  }

  /** Queues `au` for the destination and hands over what it takes now. */
  offer(au: AccessUnit): void {
    if (this.closed || !this.gate.pass(au.keyframe)) return;
    this.backlog.push(au);
    this.backlogBytes += unitBytes(au);
    this.bound();
    if (this.open && !this.waitingDrain) this.flush();
  }

  /** The destination's open() resolved: what waited goes out. */
  start(): void {
    this.open = true;
    this.flush();
  }

  /** Resolves once the backlog is empty (or `signal` aborts); offers nothing new after. */
  async drain(signal: AbortSignal): Promise<void> {
    this.closed = true;
    if (!this.open || this.destination.state === 'failed') return this.discard();
    this.flush();
    if (this.length === 0 || signal.aborted) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        this.flushed = undefined;
        resolve();
      };
      this.flushed = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** Stops offering; what still waits is dropped (counted). */
  discard(): void {
    this.closed = true;
    this.dropped += this.length;
    this.clear();
    this.destination.off('drain', this.onDrain);
    this.waitingDrain = false;
  }

  get length(): number {
    return this.backlog.length - this.head;
  }

  stats(): DestinationStats {
    const s = this.destination.stats();
    const oldest = this.length > 0 ? this.backlog[this.head]!.captureMs : undefined;
    return {
      ...s,
      unitsDropped: s.unitsDropped + this.dropped,
      backlogBytes: s.backlogBytes + this.backlogBytes,
      behindMs: oldest === undefined ? s.behindMs : Math.max(s.behindMs, Math.max(0, Date.now() - oldest)),
    };
  }

  private flush(): void {
    while (this.head < this.backlog.length) {
      const au = this.backlog[this.head]!;
      let taken: boolean;
      try {
        taken = this.destination.write(au);
      } catch (err) {
        this.discard();
        this.broken(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      if (!taken) {
        if (!this.waitingDrain) {
          this.waitingDrain = true;
          this.destination.once('drain', this.onDrain);
        }
        return;
      }
      this.backlog[this.head++] = undefined as unknown as AccessUnit; // its memory may go now
      this.backlogBytes -= unitBytes(au);
    }
    this.clear();
    this.flushed?.();
  }

  /** Over a limit: drop from the front up to the next keyframe (at least one GOP), while one is queued behind. */
  private bound(): void {
    const newest = this.backlog[this.backlog.length - 1]!;
    while (this.length > 1 && (this.backlogBytes > this.limits.bytes || newest.captureMs - this.backlog[this.head]!.captureMs > this.limits.ms)) {
      let next = this.head + 1;
      while (next < this.backlog.length && !this.backlog[next]!.keyframe) next++;
      if (next >= this.backlog.length) {
        // No keyframe queued behind: drop everything and wait for the next one.
        this.dropped += this.length;
        this.clear();
        this.gate.reset();
        return;
      }
      for (let i = this.head; i < next; i++) this.backlogBytes -= unitBytes(this.backlog[i]!);
      this.dropped += next - this.head;
      this.head = next;
    }
    if (this.head > 256 && this.head * 2 > this.backlog.length) {
      this.backlog = this.backlog.slice(this.head);
      this.head = 0;
    }
  }

  private clear(): void {
    this.backlog = [];
    this.head = 0;
    this.backlogBytes = 0;
  }
}
