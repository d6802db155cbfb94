/**
 * Capture times for units whose reader does not know them (everything but RTSP with sender
 * reports): a FileSkyLine timestamps sidecar beside a file, else the arrival time.
 *
 * Arrival: each unit's PTS plus the smallest (arrival - PTS) seen on this connection, so
 * bursts (TCP, a buffering relay) do not make capture times jitter, and none is in the future.
 */
import { parseSidecar } from '../destinations/file/timestamps-sidecar.js';

export interface CaptureClock {
  /** Capture time in epoch ms of a unit with this PTS that arrived at `arrivalMs`. */
  captureMs(ptsNs: number, arrivalMs: number): number;
  /** A new connection: PTS starts over. */
  reset(): void;
}

export class ArrivalClock implements CaptureClock {
  private offset = Infinity;
  private lastPtsMs = -Infinity;
  private lastMs = -Infinity;

  captureMs(ptsNs: number, arrivalMs: number): number {
    const ptsMs = ptsNs / 1e6;
    if (arrivalMs - ptsMs < this.offset) this.offset = arrivalMs - ptsMs;
    let t = ptsMs + this.offset;
    // A lower offset must not put a later picture before an earlier one.
    if (ptsMs > this.lastPtsMs && t <= this.lastMs) t = this.lastMs + 0.001;
    if (ptsMs > this.lastPtsMs) {
      this.lastPtsMs = ptsMs;
      this.lastMs = t;
    }
    return t;
  }

  reset(): void {
    this.offset = Infinity;
    this.lastPtsMs = -Infinity;
    this.lastMs = -Infinity;
  }
}

/**
 * Files without a sidecar: the arrival of the first unit plus PTS, so a file read faster than
 * real time keeps its own spacing.
 */
export class FirstArrivalClock implements CaptureClock {
  private anchor = NaN;

  captureMs(ptsNs: number, arrivalMs: number): number {
    if (Number.isNaN(this.anchor)) this.anchor = arrivalMs - ptsNs / 1e6;
    return this.anchor + ptsNs / 1e6;
  }

  reset(): void {
    this.anchor = NaN;
  }
}

/** Capture times from a sidecar's rows (pts_us → capture_time_us); arrival time for PTS it does not list. */
export class SidecarClock implements CaptureClock {
  private readonly pts: number[];
  private readonly capture: number[];
  private readonly fallback = new FirstArrivalClock();

  constructor(sidecarText: string) {
    const rows = parseSidecar(sidecarText).sort((a, b) => a.ptsUs - b.ptsUs);
    this.pts = rows.map((r) => r.ptsUs);
    this.capture = rows.map((r) => r.captureTimeUs);
  }

  get size(): number {
    return this.pts.length;
  }

  captureMs(ptsNs: number, arrivalMs: number): number {
    const us = ptsNs / 1000;
    let lo = 0;
    let hi = this.pts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.pts[mid]! < us) lo = mid + 1;
      else hi = mid;
    }
    let best = lo;
    if (lo > 0 && Math.abs(this.pts[lo - 1]! - us) < Math.abs(this.pts[lo]! - us)) best = lo - 1;
    // Within 2 ms: a frame of the recording; beyond, the file is not the one the sidecar describes.
    if (this.pts.length > 0 && Math.abs(this.pts[best]! - us) <= 2000) return this.capture[best]! / 1000;
    return this.fallback.captureMs(ptsNs, arrivalMs);
  }

  reset(): void {
    this.fallback.reset();
  }
}
