/**
 * The live side of low-latency HLS: access units in, CMAF parts and segments out (fragmented
 * MP4 from src/mp4/, one moof+mdat per part), kept in a sliding window that the playlist
 * (src/hls/playlist.ts) describes. Parts are cut on frame boundaries close to the part target,
 * segments on keyframes once the segment target is reached; a keyframe starts a part
 * (INDEPENDENT=YES) when the part before it may end there. A frame's duration is known when the next one comes, so a part goes out
 * when the first frame of the next one arrives. No I/O: the HTTP routes and the directory
 * writer read it, and blocking reloads wait on it.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { AccessUnit } from '../h264/access-unit.js';
import { buildAvcDecoderConfig, parameterSets, toLengthPrefixed } from '../h264/avcc.js';
import { parseSps } from '../h264/nal.js';
import { initSegment, mediaSegment, TIMESCALE, type Sample } from '../mp4/fragmented.js';
import { advancePartLimit, renderMediaPlaylist, type PlaylistSegment } from './playlist.js';

export interface LiveWindowOptions {
  /** Target segment length, ms: segments are cut at the first keyframe past it. */
  segmentMs: number;
  /** Target part length, ms: rounded down to whole frames. */
  partMs: number;
  /** Segments listed in the playlist. */
  windowSegments: number;
  /** Frames per second, for the part target (whole frames) and the last frame's duration. */
  fps: number;
  /** Low-latency HLS: the server answers _HLS_msn/_HLS_part. False: plain HLS (a directory of static files; parts are not written). */
  lowLatency: boolean;
  /** Asked when a segment is due and no keyframe came (rate-limited by the producer). */
  requestKeyframe?: () => void;
}

interface Part {
  name: string;
  /** Global part number: the preload hint names the next one before its segment is known. */
  index: number;
  data: Buffer;
  durationS: number;
  independent: boolean;
}

interface Segment extends PlaylistSegment {
  stored: Part[];
  startNs: number;
}

interface Pending {
  sample: Buffer;
  ptsNs: number;
  captureMs: number;
  keyframe: boolean;
}

export interface LiveWindowEvents {
  /** A file appeared (init, part, or a completed segment: its parts' bytes in order). */
  file: [name: string, chunks: readonly Buffer[]];
  /** Files that left the window and its grace period. */
  removed: [names: string[]];
  /** The playlist changed. */
  playlist: [text: string];
}

export class LiveWindow extends EventEmitter<LiveWindowEvents> {
  readonly targetDurationS: number;
  readonly partTargetS: number;
  private readonly frameNs: number;
  private readonly partNs: number;
  private readonly segmentNs: number;
  /** Discontinuities ever started (EXT-X-DISCONTINUITY-SEQUENCE counts those no longer listed). */
  private discontinuities = 0;
  /** Listed segments plus as many retired ones, kept for players that read the older playlist. */
  private segments: Segment[] = [];
  private files = new Map<string, readonly Buffer[]>();
  private pending: Pending[] = [];
  private partStartNs = 0;
  private nextMsn = 0;
  private nextPart = 0;
  private fragmentSeq = 0;
  private initCount = 0;
  private mapUri: string | undefined;
  private sps: Buffer | undefined;
  private pps: Buffer | undefined;
  private discontinuityNext = false;
  private keyframeAsked = false;
  private waiters = new Set<() => void>();
  private tag = randomBytes(3).toString('hex');
  private endedFlag = false;

  constructor(private readonly o: LiveWindowOptions) {
    super();
    if (!(o.fps > 0)) throw new RangeError(`fps must be positive, got ${o.fps}`);
    this.frameNs = 1e9 / o.fps;
    const framesPerPart = Math.max(1, Math.floor((o.partMs * 1e6) / this.frameNs + 1e-6));
    this.partNs = framesPerPart * this.frameNs;
    // Printed to the millisecond: round up so no whole-frame part exceeds it.
    this.partTargetS = Math.ceil(this.partNs / 1e6) / 1000;
    this.segmentNs = Math.max(o.segmentMs * 1e6, this.partNs);
    this.targetDurationS = Math.max(1, Math.ceil(this.segmentNs / 1e9));
  }

  get fps(): number {
    return this.o.fps;
  }

  get windowSegments(): number {
    return this.o.windowSegments;
  }

  get ended(): boolean {
    return this.endedFlag;
  }

  /** The last media sequence number and how many parts it has now (-1: nothing yet). */
  get live(): { msn: number; parts: number; complete: boolean } {
    const s = this.segments.at(-1);
    return s ? { msn: s.msn, parts: s.parts.length, complete: s.complete } : { msn: -1, parts: 0, complete: false };
  }

  /** Global number of the part that comes next (the preload hint). */
  get nextPartIndex(): number {
    return this.nextPart;
  }

  /** Parts per segment at the targets, for the Advance Part Limit of far-future requests. */
  get partsPerSegment(): number {
    return Math.max(1, Math.round(this.segmentNs / this.partNs));
  }

  get advancePartLimit(): number {
    return advancePartLimit(this.partTargetS);
  }

  /** One access unit, decode order, from a keyframe on. */
  push(au: AccessUnit): void {
    if (this.endedFlag) return;
    const ps = parameterSets(au.nalus);
    if (ps.sps[0] && ps.pps[0] && (!this.sps?.equals(ps.sps[0]) || !this.pps?.equals(ps.pps[0]))) {
      if (!au.keyframe) return;
      this.flushPart(au.ptsNs);
      this.newInit(ps.sps[0], ps.pps[0]);
    }
    if (!this.mapUri) return; // nothing decodes before the first parameter sets
    const last = this.pending.at(-1);
    const segment = this.segments.at(-1);
    const open = segment && !segment.complete ? segment : undefined;
    if (last && au.ptsNs <= last.ptsNs) return; // out of order: a bug upstream; never write time backwards
    if (this.pending.length > 0) {
      const sinceSegment = open ? au.ptsNs - open.startNs : 0;
      const sincePart = au.ptsNs - this.partStartNs;
      const half = this.frameNs / 2;
      const segmentDue = sinceSegment >= this.segmentNs - half;
      // A segment must stay under TARGETDURATION + 0.5 s: a long camera GOP is cut between keyframes.
      const segmentOver = sinceSegment + this.partNs > this.targetDurationS * 1e9 + 0.49e9;
      const partDue = sincePart >= this.partNs - half;
      // A segment cut between keyframes (a long camera GOP) ends at the next keyframe, however
      // short: players join at segment starts, which should be keyframes.
      const afterCut = open !== undefined && open.parts[0]?.independent === false;
      const segmentEnds = (au.keyframe && (segmentDue || afterCut)) || (segmentOver && partDue);
      // A keyframe inside a segment starts a part (INDEPENDENT=YES) only when the part before it
      // is long enough: all but a segment's last part must be 85% of PART-TARGET (4.4.3.7).
      const partMayEnd = sincePart >= 0.85 * this.partTargetS * 1e9 - 1e3;
      if (segmentEnds || partDue || (au.keyframe && partMayEnd)) {
        this.flushPart(au.ptsNs);
        if (segmentEnds) this.completeSegment();
      }
      if (segmentDue && !au.keyframe && !this.keyframeAsked) {
        this.keyframeAsked = true;
        this.o.requestKeyframe?.();
      }
    }
    if (this.pending.length === 0) this.partStartNs = au.ptsNs;
    this.pending.push({ sample: toLengthPrefixed(au.nalus), ptsNs: au.ptsNs, captureMs: au.captureMs, keyframe: au.keyframe });
  }

  /** The stream stopped: the last part goes out, the playlist gets EXT-X-ENDLIST. */
  end(): void {
    if (this.endedFlag) return;
    const last = this.pending.at(-1);
    if (last) this.flushPart(last.ptsNs + this.frameNs);
    this.completeSegment();
    this.endedFlag = true;
    this.changed();
  }

  /** A new stream on the same window (a new encoder session): a discontinuity, new init. */
  restart(): void {
    this.endedFlag = false;
    this.pending = [];
    this.sps = this.pps = undefined;
    this.mapUri = undefined;
    this.discontinuityNext = this.segments.length > 0;
  }

  file(name: string): readonly Buffer[] | undefined {
    return this.files.get(name);
  }

  /** The global part number in a part's name, if it is one of ours. */
  partIndexOf(name: string): number | undefined {
    const m = new RegExp(`^${this.tag}-p(\\d{1,15})\\.m4s$`).exec(name);
    return m ? Number(m[1]) : undefined;
  }

  playlist(): string {
    let listed = this.segments.slice(-this.o.windowSegments - (this.segments.at(-1)?.complete === false ? 1 : 0));
    // Players start at the first listed segment: begin at one that starts with a keyframe when the
    // window has one (a camera's long GOP gets segments cut between keyframes). Monotonic: the
    // media sequence never goes back.
    const firstIndependent = listed.findIndex((s) => s.parts[0]?.independent === true);
    if (firstIndependent > 0) listed = listed.slice(firstIndependent);
    const discontinuitySequence = this.discontinuities - listed.filter((s) => s.discontinuity).length;
    return renderMediaPlaylist({
      targetDurationS: this.targetDurationS,
      partTargetS: this.partTargetS,
      lowLatency: this.o.lowLatency,
      discontinuitySequence,
      segments: listed,
      preloadHintUri: this.mapUri ? this.partName(this.nextPart) : undefined,
      ended: this.endedFlag,
    });
  }

  /** Resolves true once `ready()` holds (checked after every change), false after `timeoutMs`. */
  waitUntil(ready: () => boolean, timeoutMs: number): Promise<boolean> {
    if (ready()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = () => {
        if (!ready() && !this.endedFlag) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(ready());
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        resolve(ready());
      }, timeoutMs);
      timer.unref();
      this.waiters.add(check);
    });
  }

  /** Releases every waiting request (the destination goes away). */
  close(): void {
    this.endedFlag = true;
    for (const w of [...this.waiters]) w();
    this.waiters.clear();
  }

  private partName(index: number): string {
    return `${this.tag}-p${index}.m4s`;
  }

  private newInit(sps: Buffer, pps: Buffer): void {
    this.sps = sps;
    this.pps = pps;
    const info = parseSps(sps);
    const init = initSegment({ width: info.width, height: info.height, avcC: buildAvcDecoderConfig(sps, pps) });
    this.mapUri = `${this.tag}-init${this.initCount++}.mp4`;
    this.files.set(this.mapUri, [init]);
    this.emit('file', this.mapUri, [init]);
    // The new parameter sets start a new segment, so EXT-X-MAP changes between segments.
    this.completeSegment();
  }

  /** Frames pending up to `endNs` (the next frame's PTS) become one part. */
  private flushPart(endNs: number): void {
    if (this.pending.length === 0) return;
    const samples: Sample[] = this.pending.map((f, i) => {
      const next = i + 1 < this.pending.length ? this.pending[i + 1]!.ptsNs : endNs;
      // Ticks from rounded times, so durations add up without drift.
      return { data: f.sample, duration: ticks(next) - ticks(f.ptsNs), keyframe: f.keyframe };
    });
    const first = this.pending[0]!;
    const data = mediaSegment({ sequence: (this.fragmentSeq = (this.fragmentSeq % 0xfffffffe) + 1), baseDecodeTime: ticks(first.ptsNs), samples });
    let seg = this.segments.at(-1);
    if (!seg || seg.complete) {
      seg = {
        msn: this.nextMsn++, uri: `${this.tag}-s${this.nextMsn - 1}.m4s`, complete: false, parts: [], stored: [],
        programDateTimeMs: first.captureMs, mapUri: this.mapUri!, discontinuity: this.discontinuityNext, startNs: first.ptsNs,
      };
      if (seg.discontinuity) this.discontinuities++;
      this.discontinuityNext = false;
      this.keyframeAsked = false;
      this.segments.push(seg);
    }
    const part: Part = { name: this.partName(this.nextPart), index: this.nextPart++, data, durationS: (ticks(endNs) - ticks(first.ptsNs)) / TIMESCALE, independent: first.keyframe };
    seg.stored.push(part);
    seg.parts.push({ uri: part.name, durationS: part.durationS, independent: part.independent });
    this.pending = [];
    if (this.o.lowLatency) {
      this.files.set(part.name, [data]);
      this.emit('file', part.name, [data]);
    }
    this.changed();
  }

  private completeSegment(): void {
    const seg = this.segments.at(-1);
    if (!seg || seg.complete || seg.parts.length === 0) return;
    seg.complete = true;
    const chunks = seg.stored.map((p) => p.data);
    this.files.set(seg.uri, chunks);
    this.emit('file', seg.uri, chunks);
    this.retire();
    this.changed();
  }

  /** Keeps the window plus as many segments again (RFC 8216 6.2.2: removed segments stay available a while). */
  private retire(): void {
    const keep = 2 * this.o.windowSegments + 1;
    if (this.segments.length <= keep) return;
    const gone = this.segments.splice(0, this.segments.length - keep);
    let names: string[] = [];
    for (const s of gone) {
      names.push(s.uri, ...s.stored.map((p) => p.name));
    }
    const maps = new Set(this.segments.map((s) => s.mapUri));
    for (const s of gone) if (!maps.has(s.mapUri) && s.mapUri !== this.mapUri && this.files.has(s.mapUri)) names.push(s.mapUri);
    for (const n of names) this.files.delete(n);
    if (!this.o.lowLatency) names = names.filter((n) => this.partIndexOf(n) === undefined);
    this.emit('removed', names);
  }

  private changed(): void {
    if (this.listenerCount('playlist') > 0) this.emit('playlist', this.playlist());
    for (const w of [...this.waiters]) w();
  }
}

function ticks(ns: number): number {
  return Math.round((ns * TIMESCALE) / 1e9);
}
