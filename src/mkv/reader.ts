/**
 * Incremental Matroska reader for live streams: takes bytes as they arrive and
 * reports the EBML header, Segment children (Info, Tracks, ...), cluster starts
 * and ends, and SimpleBlocks. Handles unknown-size Segments and Clusters the way
 * RFC 9559 describes (a Segment-level ID ends an unknown-size Cluster).
 * Strict: anything malformed throws MkvParseError.
 */
import { readChildren, readElementHeader, readFloat, readUint, readVint } from './ebml.js';
import { ID, SEGMENT_CHILDREN, SIMPLEBLOCK_KEYFRAME } from './ids.js';

export class MkvParseError extends Error {
  override name = 'MkvParseError';
}

export interface MkvTrackEntry {
  number: number;
  type: number;
  codecId: string;
  codecPrivate?: Buffer;
  width?: number;
  height?: number;
  defaultDurationNs?: number;
}

export interface MkvBlock {
  track: number;
  /** Signed offset from the cluster timestamp, in timestamp-scale units. */
  offset: number;
  keyframe: boolean;
  data: Buffer;
}

export interface MkvHandler {
  ebmlHeader?(docType: string, docTypeVersion: number): void;
  segmentStart?(unknownSize: boolean): void;
  info?(info: { timestampScale: number; duration?: number; muxingApp?: string; writingApp?: string }): void;
  tracks?(tracks: MkvTrackEntry[]): void;
  /** Any other Segment child (Tags, Cues, SeekHead, ...), whole. */
  segmentElement?(id: number, payload: Buffer): void;
  clusterStart?(): void;
  clusterTimestamp?(timestamp: number): void;
  block?(block: MkvBlock): void;
  clusterEnd?(): void;
}

/** Elements other than clusters are buffered whole; cap them so a bad size cannot eat memory. */
const MAX_BUFFERED_ELEMENT = 64 * 1024 * 1024;

type Context = { kind: 'top' } | { kind: 'segment' | 'cluster'; end: number };

export class MkvReader {
  private buf: Buffer = Buffer.alloc(0);
  /** Stream position of buf[0]. */
  private base = 0;
  private pos = 0;
  private readonly stack: Context[] = [{ kind: 'top' }];
  private sawHeader = false;
  private clusterHasTimestamp = false;

  constructor(private readonly handler: MkvHandler) {}

  /** Bytes consumed so far. */
  get position(): number {
    return this.base + this.pos;
  }

  /** True while inside a cluster. */
  get inCluster(): boolean {
    return this.top().kind === 'cluster';
  }

  push(chunk: Buffer): void {
    this.buf = this.pos < this.buf.length ? Buffer.concat([this.buf.subarray(this.pos), chunk]) : chunk;
    this.base += this.pos;
    this.pos = 0;
    this.drain();
  }

  /** The stream ended: close open unknown-size masters; throw if an element was cut off. */
  end(): void {
    if (this.pos < this.buf.length) {
      throw new MkvParseError(`stream ended inside an element (${this.buf.length - this.pos} bytes left over)`);
    }
    while (this.stack.length > 1) {
      const ctx = this.stack.pop()!;
      if (ctx.kind !== 'top' && Number.isFinite(ctx.end) && ctx.end !== this.position) {
        throw new MkvParseError(`stream ended before the ${ctx.kind} did`);
      }
      if (ctx.kind === 'cluster') this.endCluster();
    }
  }

  private top(): Context {
    return this.stack[this.stack.length - 1]!;
  }

  private endCluster(): void {
    this.clusterHasTimestamp = false;
    this.handler.clusterEnd?.();
  }

  private drain(): void {
    for (;;) {
      // Close known-size masters that are complete.
      let ctx = this.top();
      while (ctx.kind !== 'top' && this.position >= ctx.end) {
        if (this.position > ctx.end) throw new MkvParseError(`element overruns its ${ctx.kind}`);
        this.stack.pop();
        if (ctx.kind === 'cluster') this.endCluster();
        ctx = this.top();
      }
      let h;
      try {
        h = readElementHeader(this.buf, this.pos);
      } catch (err) {
        throw new MkvParseError((err as Error).message);
      }
      if (!h) return;
      const start = this.position;
      const payloadStart = start + h.headerLength;

      if (ctx.kind === 'cluster' && ctx.end === Infinity && (SEGMENT_CHILDREN.has(h.id) || h.id === ID.EBML)) {
        // A Segment-level element ends an unknown-size cluster.
        this.stack.pop();
        this.endCluster();
        continue;
      }

      if (ctx.kind === 'top') {
        if (!this.sawHeader) {
          if (h.id !== ID.EBML) throw new MkvParseError(`stream does not start with an EBML header (ID 0x${h.id.toString(16)})`);
          if (!this.takeWhole(h)) return;
          continue;
        }
        if (h.id === ID.Segment) {
          this.pos += h.headerLength;
          this.stack.push({ kind: 'segment', end: h.size < 0 ? Infinity : payloadStart + h.size });
          this.handler.segmentStart?.(h.size < 0);
          continue;
        }
        if (h.id === ID.Void) {
          if (!this.takeWhole(h)) return;
          continue;
        }
        throw new MkvParseError(`unexpected top-level element 0x${h.id.toString(16)}`);
      }

      if (ctx.kind === 'segment') {
        if (h.id === ID.Cluster) {
          this.pos += h.headerLength;
          this.stack.push({ kind: 'cluster', end: h.size < 0 ? Infinity : payloadStart + h.size });
          this.clusterHasTimestamp = false;
          this.handler.clusterStart?.();
          continue;
        }
        if (h.id === ID.EBML && ctx.end === Infinity) {
          // A new EBML stream after an unknown-size segment (concatenated streams): start over.
          this.stack.pop();
          this.sawHeader = false;
          continue;
        }
        if (!SEGMENT_CHILDREN.has(h.id) && h.id !== ID.Void && h.id !== ID.CRC32) {
          throw new MkvParseError(`unexpected Segment child 0x${h.id.toString(16)}`);
        }
        if (!this.takeWhole(h)) return;
        continue;
      }

      // Inside a cluster.
      if (h.size < 0) throw new MkvParseError(`unknown-size element 0x${h.id.toString(16)} inside a cluster`);
      if (!this.takeWhole(h)) return;
    }
  }

  /** Consumes a whole sized element if buffered and dispatches it; false when more bytes are needed. */
  private takeWhole(h: { id: number; size: number; headerLength: number }): boolean {
    if (h.size < 0) throw new MkvParseError(`element 0x${h.id.toString(16)} may not have an unknown size`);
    if (h.size > MAX_BUFFERED_ELEMENT) throw new MkvParseError(`element 0x${h.id.toString(16)} of ${h.size} bytes is too large`);
    const end = this.pos + h.headerLength + h.size;
    if (end > this.buf.length) return false;
    const payload = this.buf.subarray(this.pos + h.headerLength, end);
    this.pos = end;
    this.dispatch(h.id, payload);
    return true;
  }

  private dispatch(id: number, payload: Buffer): void {
    const ctx = this.top();
    if (ctx.kind === 'top') {
      if (id === ID.EBML) {
        let docType = '';
        let docTypeVersion = 1;
        for (const c of readChildrenStrict(payload)) {
          if (c.id === ID.DocType) docType = c.data.toString('latin1');
          if (c.id === ID.DocTypeVersion) docTypeVersion = uintStrict(c.data);
          if (c.id === ID.EBMLReadVersion && uintStrict(c.data) > 1) throw new MkvParseError('EBMLReadVersion > 1');
        }
        if (docType !== 'matroska' && docType !== 'webm') throw new MkvParseError(`DocType "${docType}" is not matroska`);
        this.sawHeader = true;
        this.handler.ebmlHeader?.(docType, docTypeVersion);
      }
      return;
    }
    if (ctx.kind === 'segment') {
      if (id === ID.Info) this.handler.info?.(parseInfo(payload));
      else if (id === ID.Tracks) this.handler.tracks?.(parseTracks(payload));
      else if (id !== ID.Void && id !== ID.CRC32) this.handler.segmentElement?.(id, payload);
      return;
    }
    // cluster
    if (id === ID.Timestamp) {
      this.clusterHasTimestamp = true;
      this.handler.clusterTimestamp?.(uintStrict(payload));
    } else if (id === ID.SimpleBlock) {
      if (!this.clusterHasTimestamp) throw new MkvParseError('SimpleBlock before the cluster Timestamp');
      this.handler.block?.(parseSimpleBlock(payload));
    } else if (id === ID.BlockGroup) {
      if (!this.clusterHasTimestamp) throw new MkvParseError('BlockGroup before the cluster Timestamp');
      const block = readChildrenStrict(payload).find((c) => c.id === 0xa1);
      if (!block) throw new MkvParseError('BlockGroup without a Block');
      const parsed = parseSimpleBlock(block.data);
      // A Block has no keyframe flag; a BlockGroup without ReferenceBlock is a keyframe.
      const refs = readChildrenStrict(payload).some((c) => c.id === 0xfb);
      this.handler.block?.({ ...parsed, keyframe: !refs });
    } else if (id !== ID.Position && id !== ID.PrevSize && id !== ID.Void && id !== ID.CRC32) {
      throw new MkvParseError(`unexpected Cluster child 0x${id.toString(16)}`);
    }
  }
}

// The EBML readers throw plain Errors; the reader's contract is MkvParseError for any bad input.
function uintStrict(payload: Buffer): number {
  if (payload.length > 8) throw new MkvParseError(`unsigned integer element of ${payload.length} bytes (at most 8)`);
  return readUint(payload);
}

function floatStrict(payload: Buffer): number {
  if (payload.length !== 0 && payload.length !== 4 && payload.length !== 8) throw new MkvParseError(`float element of ${payload.length} bytes (0, 4 or 8)`);
  return readFloat(payload);
}

function readChildrenStrict(payload: Buffer): { id: number; data: Buffer }[] {
  try {
    return readChildren(payload);
  } catch (err) {
    throw new MkvParseError((err as Error).message);
  }
}

function parseInfo(payload: Buffer): { timestampScale: number; duration?: number; muxingApp?: string; writingApp?: string } {
  const info: { timestampScale: number; duration?: number; muxingApp?: string; writingApp?: string } = {
    timestampScale: 1_000_000,
  };
  for (const c of readChildrenStrict(payload)) {
    if (c.id === ID.TimestampScale) info.timestampScale = uintStrict(c.data);
    else if (c.id === ID.Duration) info.duration = floatStrict(c.data);
    else if (c.id === ID.MuxingApp) info.muxingApp = c.data.toString('utf8');
    else if (c.id === ID.WritingApp) info.writingApp = c.data.toString('utf8');
  }
  if (info.timestampScale <= 0) throw new MkvParseError('TimestampScale must be positive');
  return info;
}

function parseTracks(payload: Buffer): MkvTrackEntry[] {
  const out: MkvTrackEntry[] = [];
  for (const entry of readChildrenStrict(payload)) {
    if (entry.id !== ID.TrackEntry) continue;
    const t: MkvTrackEntry = { number: 0, type: 0, codecId: '' };
    for (const c of readChildrenStrict(entry.data)) {
      if (c.id === ID.TrackNumber) t.number = uintStrict(c.data);
      else if (c.id === ID.TrackType) t.type = uintStrict(c.data);
      else if (c.id === ID.CodecID) t.codecId = c.data.toString('latin1');
      else if (c.id === ID.CodecPrivate) t.codecPrivate = Buffer.from(c.data);
      else if (c.id === ID.DefaultDuration) t.defaultDurationNs = uintStrict(c.data);
      else if (c.id === ID.Video) {
        for (const v of readChildrenStrict(c.data)) {
          if (v.id === ID.PixelWidth) t.width = uintStrict(v.data);
          if (v.id === ID.PixelHeight) t.height = uintStrict(v.data);
        }
      }
    }
    if (t.number === 0) throw new MkvParseError('TrackEntry without TrackNumber');
    if (!t.codecId) throw new MkvParseError(`track ${t.number} has no CodecID`);
    out.push(t);
  }
  return out;
}

/** SimpleBlock payload: track vint, int16 offset, flags, frame (lacing not supported: we never write it). */
export function parseSimpleBlock(payload: Buffer): MkvBlock {
  let track;
  try {
    track = readVint(payload, 0);
  } catch (err) {
    throw new MkvParseError((err as Error).message);
  }
  if (!track || track.unknown || payload.length < track.length + 3) throw new MkvParseError('truncated SimpleBlock');
  const offset = payload.readInt16BE(track.length);
  const flags = payload[track.length + 2]!;
  if (flags & 0x06) throw new MkvParseError('laced SimpleBlocks are not supported');
  return {
    track: track.value,
    offset,
    keyframe: (flags & SIMPLEBLOCK_KEYFRAME) !== 0,
    data: Buffer.from(payload.subarray(track.length + 3)),
  };
}
