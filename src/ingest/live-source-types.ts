/**
 * LiveSource's public types, apart from the class so that its helpers (history.ts, relay.ts)
 * need not import live-source.ts (which imports them).
 */
import type { Logger } from 'pino';
import type { ReconnectOptions } from '../backoff.js';
import type { DestinationError, DestinationStats } from '../destinations/destination.js';
import type { OutputFormat } from './decoder.js';
import type { SourceError } from './errors.js';
import type { RtspTlsOptions } from './rtsp-reader.js';

export interface LiveSourceOptions {
  /** rtsp://[user:pass@]host[:port]/path, rtmp://host/app/stream, http(s)://… (HLS, MJPEG), a file path or file://, /dev/videoN or v4l2:///dev/videoN, testsrc://[pattern]?width=&height=&fps= */
  url: string;
  /** Pixel format of the frames handed out. Default 'BGR' (OpenCV's). */
  format?: OutputFormat;
  /** Size of the frames handed out (scaled in GStreamer). Default: the stream's. */
  width?: number;
  height?: number;
  /** Longest span of encoded video kept for past() and screenshot(), seconds. Default 60. */
  bufferSeconds?: number;
  /** Most encoded bytes kept. Default 64 MiB. */
  bufferBytes?: number;
  /** Frames an iterator buffers before dropping the oldest. Default 4. */
  queueFrames?: number;
  /** The live decoder stops this long after the last latest() call when no iterator is open, ms. Default 10000. */
  decodeIdleMs?: number;
  /** screenshot(): how far from the asked time a keyframe may be, ms. Default 5000. */
  screenshotWindowMs?: number;
  /** past(): most frames one call decodes (raw frames are large). Default 900. */
  maxPastFrames?: number;
  /** RTSP transport. Default 'tcp' (interleaved); 'udp' for RTP over UDP (not with rtsps://). */
  rtspTransport?: 'tcp' | 'udp';
  /** rtsps://: how the server's certificate is checked (`ca`, `rejectUnauthorized`). */
  tls?: RtspTlsOptions;
  /** Answer an RTSP server's Basic challenge over plain rtsp:// (the password goes in clear text). Default false. */
  rtspBasicWithoutTls?: boolean;
  /** Files: 'realtime' (default) delivers units at the file's own pace, like a camera; 'fast' as fast as they are consumed, losing nothing. */
  filePace?: 'realtime' | 'fast';
  /** Raw sources (V4L2, test pattern): keyframe interval of the ingest encoder. Default 30. */
  keyframeInterval?: number;
  /** No media within this long of connecting fails the attempt, ms. Default 10000. */
  connectTimeoutMs?: number;
  /** No unit within this long while streaming counts as a lost stream, ms. Default 10000. */
  watchdogMs?: number;
  /** Backoff of reconnections after an established stream was lost. */
  reconnect?: ReconnectOptions;
  logger?: Logger;
}

/** A decoded frame, in the shape SkyLine.put() takes. */
export interface SourceFrame {
  data: Buffer;
  width: number;
  height: number;
  format: OutputFormat;
  /** Capture time, epoch ms: from RTCP sender reports, a FileSkyLine timestamps sidecar, else arrival time. */
  timestamp: number;
  /** Presentation time in the source's clock, ms (continues across reconnections). */
  pts: number;
  keyframe: boolean;
  /** Position of the frame's unit in the stream since start() (gaps where units were dropped). */
  seq: number;
}

export type LiveSourceState = 'stopped' | 'connecting' | 'streaming' | 'reconnecting' | 'ended' | 'error' | 'closed';

export interface ProbeInfo {
  url: string;
  state: LiveSourceState;
  codec: string | undefined;
  width: number | undefined;
  height: number | undefined;
  /** Frames per second, estimated from the capture times of the newest 60 units. */
  fps: number | undefined;
  /** Bits per second over the buffered window. */
  bitrate: number | undefined;
  /** Capture times of the oldest and newest buffered units, epoch ms (as Chrysalis' start/end_timestamp). */
  start: number | undefined;
  end: number | undefined;
  /** end - start, seconds. */
  duration: number;
  units: number;
  bytes: number;
}

export interface LiveSourceStats {
  state: LiveSourceState;
  unitsReceived: number;
  /** Units that could not be kept (before the first keyframe of a connection). */
  unitsSkipped: number;
  framesDecoded: number;
  /** Frames dropped for slow iterators, plus units the live decoder skipped to catch up. */
  framesDropped: number;
  reconnects: number;
  bufferedUnits: number;
  bufferedBytes: number;
  decoding: boolean;
  /** Each attached destination (attach()): state, bytes, units, drops, reconnects. */
  destinations: DestinationStats[];
}

export interface LiveSourceEvents {
  state: [LiveSourceState, LiveSourceState];
  /** The source's own errors, and an attached destination's (a DestinationError, its name in the message). */
  error: [SourceError | DestinationError];
  reconnect: [{ attempt: number; delayMs: number; reason: string }];
}
