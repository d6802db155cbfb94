/**
 * Matroska writer for one live H.264 track, shaped the way Kinesis Video Streams
 * ingests it: an unknown-size Segment, Info with a 1 ms timestamp scale, one
 * V_MPEG4/ISO/AVC track, then one Cluster per fragment starting at a keyframe.
 */
import {
  element,
  encodeId,
  encodeVint,
  master,
  stringElement,
  uintElement,
  unknownSizeHeader,
} from './ebml.js';
import { CODEC_H264, ID, SIMPLEBLOCK_KEYFRAME, TRACK_TYPE_VIDEO } from './ids.js';

/** Nanoseconds per timestamp tick: 1 ms, so cluster timecodes are epoch milliseconds in ABSOLUTE mode. */
export const TIMESTAMP_SCALE_NS = 1_000_000;
/** The only track we write. */
export const VIDEO_TRACK = 1;
/** SimpleBlock timecodes are signed 16-bit offsets from their cluster. */
export const MAX_BLOCK_OFFSET = 32767;

export interface VideoTrackInfo {
  width: number;
  height: number;
  /** AVCDecoderConfigurationRecord (see src/h264/avcc.ts). */
  codecPrivate: Buffer;
  /** Nominal frame duration in ns (optional, informative for players). */
  defaultDurationNs?: number;
  name?: string;
}

export interface HeaderOptions {
  muxingApp?: string;
  writingApp?: string;
  /** 16 bytes; identifies the segment (a new one per connection is fine). */
  segmentUuid?: Buffer;
  title?: string;
}

/** One frame inside a fragment: sample data is 4-byte length-prefixed NAL units. */
export interface MkvFrame {
  /** Timestamp in ms (same clock as the cluster timecode). */
  timecodeMs: number;
  keyframe: boolean;
  data: Buffer;
}

/** EBML header: DocType matroska, version 2 (SimpleBlock needs at least 2). */
export function ebmlHeader(): Buffer {
  return master(ID.EBML, [
    uintElement(ID.EBMLVersion, 1),
    uintElement(ID.EBMLReadVersion, 1),
    uintElement(ID.EBMLMaxIDLength, 4),
    uintElement(ID.EBMLMaxSizeLength, 8),
    stringElement(ID.DocType, 'matroska'),
    uintElement(ID.DocTypeVersion, 2),
    uintElement(ID.DocTypeReadVersion, 2),
  ]);
}

/** Segment Info: 1 ms timestamp scale and the writer's name. */
export function segmentInfo(opts: HeaderOptions = {}): Buffer {
  const children = [uintElement(ID.TimestampScale, TIMESTAMP_SCALE_NS)];
  if (opts.segmentUuid) {
    if (opts.segmentUuid.length !== 16) throw new RangeError('SegmentUUID must be 16 bytes');
    children.push(element(ID.SegmentUUID, opts.segmentUuid));
  }
  if (opts.title) children.push(stringElement(ID.Title, opts.title));
  children.push(stringElement(ID.MuxingApp, opts.muxingApp ?? 'gst-skyline'));
  children.push(stringElement(ID.WritingApp, opts.writingApp ?? 'gst-skyline'));
  return master(ID.Info, children);
}

/** Tracks with the one H.264 video track. */
export function videoTracks(track: VideoTrackInfo): Buffer {
  if (!track.codecPrivate || track.codecPrivate.length === 0) throw new Error('H.264 track needs CodecPrivate (avcC)');
  if (!(track.width > 0 && track.height > 0)) throw new RangeError(`bad video size ${track.width}x${track.height}`);
  const entry = [
    uintElement(ID.TrackNumber, VIDEO_TRACK),
    uintElement(ID.TrackUID, VIDEO_TRACK),
    uintElement(ID.TrackType, TRACK_TYPE_VIDEO),
    uintElement(ID.FlagLacing, 0),
    stringElement(ID.Name, track.name ?? 'video'),
    stringElement(ID.CodecID, CODEC_H264),
    element(ID.CodecPrivate, track.codecPrivate),
  ];
  if (track.defaultDurationNs && track.defaultDurationNs > 0) {
    entry.push(uintElement(ID.DefaultDuration, Math.round(track.defaultDurationNs)));
  }
  entry.push(master(ID.Video, [uintElement(ID.PixelWidth, track.width), uintElement(ID.PixelHeight, track.height)]));
  return master(ID.Tracks, [master(ID.TrackEntry, entry)]);
}

/**
 * Everything before the first cluster: EBML header, the start of an
 * unknown-size Segment, Info and Tracks. Sent again at the start of every
 * PutMedia connection.
 */
export function streamHeader(track: VideoTrackInfo, opts: HeaderOptions = {}): Buffer {
  return Buffer.concat([ebmlHeader(), unknownSizeHeader(ID.Segment), segmentInfo(opts), videoTracks(track)]);
}

/** Start of an unknown-size cluster: it ends where the next cluster (or the stream) begins. */
export function clusterStart(timecodeMs: number): Buffer {
  return Buffer.concat([unknownSizeHeader(ID.Cluster), uintElement(ID.Timestamp, timecodeMs)]);
}

/** A SimpleBlock on track 1: track vint, 16-bit signed offset from the cluster, flags, frame. */
export function simpleBlock(offsetMs: number, keyframe: boolean, data: Buffer): Buffer {
  if (!Number.isInteger(offsetMs) || offsetMs < -32768 || offsetMs > MAX_BLOCK_OFFSET) {
    throw new RangeError(`block offset ${offsetMs} ms does not fit a SimpleBlock`);
  }
  const head = Buffer.alloc(4);
  head[0] = 0x80 | VIDEO_TRACK; // track number as a 1-byte vint
  head.writeInt16BE(offsetMs, 1);
  head[3] = keyframe ? SIMPLEBLOCK_KEYFRAME : 0;
  // Written for every frame sent (and resent): one copy of the frame, not one per nesting level.
  return Buffer.concat([encodeId(ID.SimpleBlock), encodeVint(head.length + data.length), head, data]);
}

/** A whole cluster of known size (for files and stored fragments). */
export function cluster(timecodeMs: number, frames: readonly MkvFrame[]): Buffer {
  return master(ID.Cluster, [
    uintElement(ID.Timestamp, timecodeMs),
    ...frames.map((f) => simpleBlock(f.timecodeMs - timecodeMs, f.keyframe, f.data)),
  ]);
}
