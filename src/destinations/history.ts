// The last few seconds of encoded video, bounded in bytes and seconds, always starting at a
// keyframe: what a destination attached with pre-roll starts from ("the 5 s before a person
// appeared"). Units are referenced, not copied: the encoder hands each one out once.
import type { AccessUnit } from '../h264/access-unit.js';

export interface HistoryLimits {
  /** Longest span kept, ms of capture time. */
  ms: number;
  /** Most bytes kept. */
  bytes: number;
}

export function unitBytes(au: AccessUnit): number {
  let n = 0;
  for (const nal of au.nalus) n += nal.length;
  return n;
}

export class EncodedHistory {
  private units: AccessUnit[] = [];
  private head = 0;
  private byteCount = 0;

  constructor(private readonly limits: HistoryLimits) {}

  get bytes(): number {
    return this.byteCount;
  }

  get length(): number {
    return this.units.length - this.head;
  }

  add(au: AccessUnit): void {
    if (this.limits.ms <= 0 || this.limits.bytes <= 0) return;
    // Nothing before the first keyframe is of use to anyone.
    if (this.length === 0 && !au.keyframe) return;
    this.units.push(au);
    this.byteCount += unitBytes(au);
    this.trim(au.captureMs);
  }

  /**
   * The units from the newest keyframe captured at or before `atMs` to now; from the oldest
   * keyframe kept when none is that old. Empty when nothing is kept.
   */
  since(atMs: number): AccessUnit[] {
    let start = -1;
    for (let i = this.units.length - 1; i >= this.head; i--) {
      const u = this.units[i]!;
      if (u.keyframe) {
        start = i;
        if (u.captureMs <= atMs) break;
      }
    }
    return start < 0 ? [] : this.units.slice(start);
  }

  clear(): void {
    this.units = [];
    this.head = 0;
    this.byteCount = 0;
  }

  /** Drops whole GOPs from the front while over a limit, so the history still starts at a keyframe. */
  private trim(newestMs: number): void {
    while (this.length > 1 && (this.byteCount > this.limits.bytes || newestMs - this.units[this.head]!.captureMs > this.limits.ms)) {
      let next = this.head + 1;
      while (next < this.units.length && !this.units[next]!.keyframe) next++;
      if (next >= this.units.length) break; // the newest GOP stays whole, whatever its size
      for (let i = this.head; i < next; i++) this.byteCount -= unitBytes(this.units[i]!);
      this.head = next;
    }
    // Compact now and then, so the array does not grow with the stream.
    if (this.head > 1024 && this.head * 2 > this.units.length) {
      this.units = this.units.slice(this.head);
      this.head = 0;
    }
  }
}
