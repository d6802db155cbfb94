/**
 * The encoded ring buffer: the last N seconds of a stream as compressed access units (H.264
 * pictures or JPEG images), with an index of the keyframes. Nothing here is decoded: a 720p
 * camera at 2 Mbit/s costs about 15 MB for 60 s, where 60 s of raw frames would be 4.8 GB.
 *
 * The buffer always starts at a keyframe: eviction removes whole groups of pictures, so every
 * unit still held can be decoded by starting at the keyframe at or before it.
 */

/** Most pictures an H.264 decoder reorders (max_num_reorder_frames is at most 16). */
const REORDER_DEPTH = 16;

export interface EncodedUnit {
  /** The unit's bytes: Annex-B H.264 (SPS/PPS before each IDR) or one JPEG image. */
  readonly data: Buffer;
  /** Presentation time in the source's own clock, ns. */
  readonly ptsNs: number;
  /** Capture time, epoch ms. */
  readonly timestampMs: number;
  readonly keyframe: boolean;
  /** Position in the stream since the source started, from 0; never reused. */
  readonly seq: number;
}

export interface RingLimits {
  /** Longest span kept, capture time of the newest unit minus the oldest, ms. */
  maxMs: number;
  /** Most bytes kept. One group of pictures is always kept even when larger. */
  maxBytes: number;
}

export class EncodedRing {
  private units: EncodedUnit[] = [];
  private head = 0;
  /** Seqs of the keyframes held, oldest first (from keyHead). */
  private keys: number[] = [];
  private keyHead = 0;
  private nextSeq = 0;
  private total = 0;
  /** Units never stored because they came before the first keyframe, or evicted. */
  skipped = 0;
  evicted = 0;

  constructor(private readonly limits: RingLimits) {}

  get bytes(): number {
    return this.total;
  }

  get length(): number {
    return this.units.length - this.head;
  }

  get oldest(): EncodedUnit | undefined {
    return this.units[this.head];
  }

  get newest(): EncodedUnit | undefined {
    return this.length > 0 ? this.units[this.units.length - 1] : undefined;
  }

  /** The seq the next pushed unit gets. */
  get endSeq(): number {
    return this.nextSeq;
  }

  /** Adds a unit; returns it, or undefined when it cannot be decoded (no keyframe before it yet). */
  push(data: Buffer, ptsNs: number, timestampMs: number, keyframe: boolean): EncodedUnit | undefined {
    if (this.length === 0 && !keyframe) {
      this.skipped++;
      return undefined;
    }
    const unit: EncodedUnit = { data, ptsNs, timestampMs, keyframe, seq: this.nextSeq++ };
    this.units.push(unit);
    if (keyframe) this.keys.push(unit.seq);
    this.total += data.length;
    this.evict();
    return unit;
  }

  /** Forgets everything (a new connection: its units do not continue the old ones). Seqs keep counting. */
  clear(): void {
    this.units = [];
    this.head = 0;
    this.keys = [];
    this.keyHead = 0;
    this.total = 0;
  }

  get(seq: number): EncodedUnit | undefined {
    const first = this.oldest;
    if (!first) return undefined;
    const u = this.units[this.head + (seq - first.seq)];
    return u && u.seq === seq ? u : undefined;
  }

  /** Frames per second from the capture times of the newest units (up to 60); undefined with fewer than two. */
  fps(): number | undefined {
    const newest = this.newest;
    const oldest = this.oldest;
    if (!newest || !oldest || this.length < 2) return undefined;
    const from = this.get(Math.max(oldest.seq, newest.seq - 60));
    if (!from || newest.timestampMs <= from.timestampMs) return undefined;
    return ((newest.seq - from.seq) * 1000) / (newest.timestampMs - from.timestampMs);
  }

  /** The newest keyframe held. */
  lastKeyframe(): EncodedUnit | undefined {
    return this.keys.length > this.keyHead ? this.get(this.keys[this.keys.length - 1]!) : undefined;
  }

  /** The keyframe at or before capture time `ms`; the oldest keyframe when `ms` is older than the buffer. */
  keyframeAtOrBefore(ms: number): EncodedUnit | undefined {
    let lo = this.keyHead;
    let hi = this.keys.length - 1;
    if (hi < lo) return undefined;
    let found = lo;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.get(this.keys[mid]!)!.timestampMs <= ms) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return this.get(this.keys[found]!);
  }

  /** The keyframe whose capture time is nearest `ms`, if within `windowMs` of it. */
  keyframeNearest(ms: number, windowMs: number): EncodedUnit | undefined {
    const before = this.keyframeAtOrBefore(ms);
    if (!before) return undefined;
    const idx = this.keys.indexOf(before.seq, this.keyHead);
    const after = idx + 1 < this.keys.length ? this.get(this.keys[idx + 1]!) : undefined;
    let best = before;
    if (after && Math.abs(after.timestampMs - ms) < Math.abs(before.timestampMs - ms)) best = after;
    return Math.abs(best.timestampMs - ms) <= windowMs ? best : undefined;
  }

  /**
   * Units in decode order from seq `from` (inclusive) through the last one captured at or before
   * `toMs`. With B-frames decode order is not capture order: a unit captured after `toMs` that a
   * wanted one depends on comes before it, so the scan looks a little past the first later unit.
   */
  range(from: number, toMs = Infinity): EncodedUnit[] {
    const first = this.oldest;
    if (!first) return [];
    const start = this.head + Math.max(0, from - first.seq);
    let end = start; // exclusive
    let later = 0;
    for (let i = start; i < this.units.length; i++) {
      const u = this.units[i]!;
      if (u.timestampMs <= toMs) {
        end = i + 1;
        later = 0;
      } else if (u.keyframe || ++later > REORDER_DEPTH) {
        break;
      }
    }
    return this.units.slice(start, end);
  }

  private evict(): void {
    const newest = this.newest!;
    for (;;) {
      const oldest = this.oldest!;
      const tooOld = newest.timestampMs - oldest.timestampMs > this.limits.maxMs;
      const tooBig = this.total > this.limits.maxBytes;
      // Only whole groups of pictures go, so the buffer keeps starting at a keyframe; the
      // newest group stays even when it alone is over the limits.
      if ((!tooOld && !tooBig) || this.keys.length - this.keyHead < 2) break;
      const nextKey = this.keys[this.keyHead + 1]!;
      while (this.oldest!.seq < nextKey) {
        this.total -= this.units[this.head]!.data.length;
        this.units[this.head] = undefined as unknown as EncodedUnit;
        this.head++;
        this.evicted++;
      }
      this.keyHead++;
    }
    // Compact now and then, so the arrays do not grow for ever.
    if (this.head > 1024 && this.head * 2 > this.units.length) {
      this.units = this.units.slice(this.head);
      this.head = 0;
    }
    if (this.keyHead > 256 && this.keyHead * 2 > this.keys.length) {
      this.keys = this.keys.slice(this.keyHead);
      this.keyHead = 0;
    }
  }
}
