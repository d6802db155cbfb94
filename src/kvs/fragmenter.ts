/**
 * Cuts encoded access units into KVS fragments: each starts at a keyframe,
 * lasts about `fragmentMs` (a keyframe is requested when it is due), never
 * reaches KVS's 10 s limit, and is not shorter than 200 ms (5 fragments/s limit).
 * Frames get strictly increasing millisecond timecodes from their capture times.
 */
import type { AccessUnit } from '../h264/access-unit.js';
import { buildAvcDecoderConfig, parameterSets, toLengthPrefixed } from '../h264/avcc.js';
import type { MkvFrame, VideoTrackInfo } from '../mkv/writer.js';

export interface Fragment {
  seq: number;
  /** Cluster timecode: capture time of the first frame, epoch ms. */
  timecodeMs: number;
  frames: MkvFrame[];
  bytes: number;
  /** No more frames will be added. */
  complete: boolean;
  track: VideoTrackInfo;
  /** Wall-clock ms when the first and last frames arrived. */
  firstArrivalMs: number;
  lastArrivalMs: number;
  persisted: boolean;
  /** Times KVS answered this fragment with a retryable ERROR. */
  attempts: number;
  /** Connection that last sent the whole fragment. */
  sentOn?: number;
}

export interface FragmenterOptions {
  width: number;
  height: number;
  /** Target fragment duration (a keyframe is requested when reached). */
  fragmentMs?: number;
  /** Hard cap; frames past it are dropped until the next keyframe. Below KVS's 10 s. */
  maxFragmentMs?: number;
  /** Keyframes closer than this to the fragment start stay inside the fragment. */
  minFragmentMs?: number;
  /** Keyframe requested past this many bytes; hard cap at 4x (KVS allows 50 MB). */
  softMaxBytes?: number;
  fps?: number;
  requestKeyframe: () => void;
}

export interface FragmenterSink {
  fragmentStart(f: Fragment): void;
  frame(f: Fragment, frame: MkvFrame): void;
  fragmentEnd(f: Fragment): void;
}

export class Fragmenter {
  framesIn = 0;
  framesDropped = 0;
  private seq = 0;
  private open?: Fragment;
  private track?: VideoTrackInfo;
  private lastTc = -Infinity;
  private keyframeRequestedAt = -Infinity;
  private readonly fragmentMs: number;
  private readonly maxFragmentMs: number;
  private readonly minFragmentMs: number;
  private readonly softMaxBytes: number;

  constructor(
    private readonly opts: FragmenterOptions,
    private readonly sink: FragmenterSink,
  ) {
    this.fragmentMs = opts.fragmentMs ?? 2000;
    this.maxFragmentMs = Math.min(opts.maxFragmentMs ?? 9500, 9500);
    this.minFragmentMs = opts.minFragmentMs ?? 200;
    this.softMaxBytes = opts.softMaxBytes ?? 10 * 1024 * 1024;
    if (!(this.fragmentMs > 0 && this.fragmentMs <= this.maxFragmentMs)) {
      throw new RangeError(`fragment duration must be between 0 and ${this.maxFragmentMs / 1000} s`);
    }
  }

  push(au: AccessUnit, arrivalMs = Date.now()): void {
    this.framesIn++;
    const ps = parameterSets(au.nalus);
    let trackChanged = false;
    if (ps.sps.length > 0 && ps.pps.length > 0) {
      const codecPrivate = buildAvcDecoderConfig(ps.sps, ps.pps);
      if (!this.track || !this.track.codecPrivate.equals(codecPrivate)) {
        trackChanged = this.track !== undefined;
        this.track = {
          width: this.opts.width,
          height: this.opts.height,
          codecPrivate,
          ...(this.opts.fps ? { defaultDurationNs: Math.round(1e9 / this.opts.fps) } : {}),
        };
      }
    }
    let tc = Math.round(au.captureMs);
    if (tc <= this.lastTc) tc = this.lastTc + 1;

    const f = this.open;
    const age = f ? tc - f.timecodeMs : 0;
    if (au.keyframe && this.track && (!f || trackChanged || age >= this.minFragmentMs)) {
      this.close();
      this.start(tc, arrivalMs);
    } else if (!f || !this.track) {
      this.drop('waiting for a keyframe with SPS/PPS');
      return;
    } else if (age >= this.maxFragmentMs || f.bytes >= this.softMaxBytes * 4) {
      // No keyframe in time: close the fragment here rather than break KVS's limits.
      this.close();
      this.drop('fragment limit reached before a keyframe');
      return;
    } else if ((age >= this.fragmentMs || f.bytes >= this.softMaxBytes) && arrivalMs - this.keyframeRequestedAt > 1000) {
      this.keyframeRequestedAt = arrivalMs;
      this.opts.requestKeyframe();
    }
    const cur = this.open!;
    const frame: MkvFrame = { timecodeMs: tc, keyframe: au.keyframe, data: toLengthPrefixed(au.nalus) };
    this.lastTc = tc;
    cur.frames.push(frame);
    cur.bytes += frame.data.length;
    cur.lastArrivalMs = arrivalMs;
    this.sink.frame(cur, frame);
  }

  /** Ends the open fragment (end of stream). */
  flush(): void {
    this.close();
  }

  private start(tc: number, arrivalMs: number): void {
    this.open = {
      seq: ++this.seq,
      timecodeMs: tc,
      frames: [],
      bytes: 0,
      complete: false,
      track: this.track!,
      firstArrivalMs: arrivalMs,
      lastArrivalMs: arrivalMs,
      persisted: false,
      attempts: 0,
    };
    this.sink.fragmentStart(this.open);
  }

  private close(): void {
    const f = this.open;
    if (!f) return;
    this.open = undefined;
    f.complete = true;
    this.sink.fragmentEnd(f);
  }

  private drop(_why: string): void {
    this.framesDropped++;
    const now = Date.now();
    if (now - this.keyframeRequestedAt > 1000) {
      this.keyframeRequestedAt = now;
      this.opts.requestKeyframe();
    }
  }
}
