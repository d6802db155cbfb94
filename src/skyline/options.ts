// What a SkyLine is configured with: the public option, stat and event types, the defaults, and
// their validation (a bad option throws from the constructor, a bad start option from
// startStreaming()).
import type { Logger } from 'pino';
import { withDefaults, type ReconnectOptions } from '../backoff.js';
import type { EnvOptions } from '../config.js';
import type { Destination, DestinationState, DestinationStats } from '../destinations/destination.js';
import { validateEncoderSettings, type EncoderName } from '../encoder.js';
import type { SkyLineState } from '../lifecycle.js';

/** Pass for fps, width or height to reuse the value of this SkyLine's previous session. */
export const USE_LAST_VALUE = -999;
/** Frames timed during warmup when the frame rate is not given. */
export const FPS_METER_WARMUP_FRAMES = 100;

/** How frames get their presentation times. */
export type TimestampMode = 'capture' | 'frame-rate';

export interface SkyLineOptions extends EnvOptions {
  /** A pino logger; the SkyLine logs through a child of it. Default: pino to stderr at SKYLINE_LOG_LEVEL or 'warn'. */
  logger?: Logger;
  /** Frames timed to measure fps when it is not given. Default FPS_METER_WARMUP_FRAMES (100). */
  warmupFrames?: number;
  /** Memory for frames kept during warmup; reaching it ends warmup early (fps from the frames so far). Default 256 MiB. */
  warmupMemoryBytes?: number;
  /** Memory for the queue between put() and the encoder, its converter included (at least 2 frames). Default 64 MiB. */
  queueBytes?: number;
  /** Target bitrate, kbit/s. Default 2000. */
  bitrate?: number;
  /** Frames between keyframes. Default 60. */
  keyframeInterval?: number;
  /** x264 speed preset. Default 'ultrafast' (leaves the CPU to the vision code). */
  speedPreset?: string;
  /** x264 threads encode whole frames in parallel (throughput) instead of slices of one (latency). Default false; FileSkyLine: true. */
  frameThreads?: boolean;
  /** H.264 encoder element, or 'auto': a working hardware encoder, else x264enc, else openh264enc. */
  encoder?: EncoderName | 'auto';
  /** How often 'stats' is emitted while streaming, ms (0: never). Default 1000. */
  statsIntervalMs?: number;
  /** Backoff for destinations that reconnect after a failure. */
  reconnect?: ReconnectOptions;
  /** Longest stopStreaming() and close() take, whatever the destination does, ms. Default 15000. */
  stopTimeoutMs?: number;
  /**
   * PTS of each frame: 'capture' (default) from its capture time, so irregular put() plays back
   * at real speed; 'frame-rate' n / fps for the n-th frame of the session, for offline work
   * (annotating a recorded video with putAsync()). Capture times are kept (sidecar) either way.
   */
  timestamps?: TimestampMode;
  /** Where the encoded video goes, besides a subclass's own destination; more with attach(). */
  destinations?: Destination[];
  /** Encoded video kept for attach()'s pre-roll: longest span, ms. Default 10000 (0: none). */
  historyMs?: number;
  /** Encoded video kept for pre-roll: most bytes. Default 32 MiB. */
  historyBytes?: number;
  /** Per destination: most encoded bytes waiting for it before its oldest GOPs are dropped. Default 16 MiB. */
  backlogBytes?: number;
  /** Per destination: longest capture-time span waiting for it, ms (pre-roll extends it). Default 10000. */
  backlogMs?: number;
  /** Shortest gap between keyframes asked of the encoder by destinations and viewers, ms. Default 1000. */
  keyframeGapMs?: number;
}

export interface StartOptions {
  /** Frames per second; null: measure during warmup. Default USE_LAST_VALUE. */
  fps?: number | null;
  /** Video width; null: the first frame's. Default USE_LAST_VALUE. */
  width?: number | null;
  /** Video height; null: the first frame's. Default USE_LAST_VALUE. */
  height?: number | null;
}

export interface PutOptions {
  /** Capture time of the frame, epoch milliseconds. Default Date.now(). */
  timestamp?: number;
}

/** What a session was opened with. */
export interface SessionInfo {
  fps: number;
  width: number;
  height: number;
  /** GStreamer fraction of fps, e.g. "30000/1001". */
  framerate: string;
  /** Capture time (epoch ms) of PTS 0: the session's first frame. */
  originMs: number;
  /** 1 for the first session of this SkyLine, then 2, 3, ... */
  index: number;
  encoder: EncoderName;
}

export interface SkyLineStats {
  state: SkyLineState;
  /** Frames put() accepted this session. */
  framesAccepted: number;
  /** Frames dropped this session: queue overflow, or destination unavailable. */
  framesDropped: number;
  /** Frames the encoder has taken (tap destinations: encoded units received). */
  framesEncoded: number;
  /** Bytes handed to the destination. */
  bytesOut: number;
  /** Rate of put() calls over the last stats interval, frames/s. */
  measuredFps: number;
  /** Frames waiting: warmup frames and the queue. */
  queued: number;
  /** One entry per attached destination. */
  destinations: DestinationStats[];
}

export interface ReconnectInfo {
  attempt: number;
  delayMs: number;
  reason: string;
}

/** Events of every SkyLine. Subclasses extend it with their error type, stats and extra events. */
export interface SkyLineEvents {
  state: [state: SkyLineState, previous: SkyLineState];
  error: [err: Error];
  stats: [stats: SkyLineStats];
  reconnect: [info: ReconnectInfo];
  /** An attached destination changed state (its errors come as 'error', with `destination` set). */
  destination: [name: string, state: DestinationState, previous: DestinationState];
}

/** What a subclass adds to the SkyLine it builds on. */
export interface BuiltInParts {
  /**
   * Its own destination (FileSkyLine's file, RtmpSkyLine's relay). Its reconnects are the
   * SkyLine's ('reconnecting', put() drops), its final failure fails the session, and its
   * errors are reported as they are.
   */
  destination?: Destination;
  /** Secrets masked in every log line and error: a string (shown as ****), or [secret, shown as]. */
  secrets?: Iterable<string | undefined | readonly [secret: string, shownAs: string]>;
}


/** The options with their defaults, as the SkyLine uses them. */
export type ResolvedOptions = Required<Omit<SkyLineOptions, 'logger' | keyof EnvOptions | 'reconnect' | 'destinations' | 'frameThreads'>> & {
  reconnect: Required<ReconnectOptions>;
  /** Given, or undefined: then x264 frame threads only while every destination is a file. */
  frameThreads: boolean | undefined;
};

/** Applies the defaults and checks every value; throws RangeError for a bad one. */
export function resolveOptions(options: SkyLineOptions): ResolvedOptions {
  const o: ResolvedOptions = {
    warmupFrames: options.warmupFrames ?? FPS_METER_WARMUP_FRAMES,
    warmupMemoryBytes: options.warmupMemoryBytes ?? 256 * 2 ** 20,
    queueBytes: options.queueBytes ?? 64 * 2 ** 20,
    bitrate: options.bitrate ?? 2000,
    keyframeInterval: options.keyframeInterval ?? 60,
    speedPreset: options.speedPreset ?? 'ultrafast',
    encoder: options.encoder ?? 'auto',
    statsIntervalMs: options.statsIntervalMs ?? 1000,
    stopTimeoutMs: options.stopTimeoutMs ?? 15_000,
    reconnect: withDefaults(options.reconnect),
    timestamps: options.timestamps ?? 'capture',
    historyMs: options.historyMs ?? 10_000,
    historyBytes: options.historyBytes ?? 32 * 2 ** 20,
    backlogBytes: options.backlogBytes ?? 16 * 2 ** 20,
    backlogMs: options.backlogMs ?? 10_000,
    keyframeGapMs: options.keyframeGapMs ?? 1000,
    frameThreads: options.frameThreads,
  };
  validateEncoderSettings({ ...o, frameThreads: options.frameThreads ?? false });
  if (!Number.isInteger(o.warmupFrames) || o.warmupFrames < 2) {
    throw new RangeError(`warmupFrames must be an integer of at least 2, got ${o.warmupFrames}`);
  }
  if (o.timestamps !== 'capture' && o.timestamps !== 'frame-rate') {
    throw new RangeError(`timestamps must be 'capture' or 'frame-rate', got ${JSON.stringify(o.timestamps)}`);
  }
  if (!(o.stopTimeoutMs > 0)) throw new RangeError(`stopTimeoutMs must be positive, got ${o.stopTimeoutMs}`);
  for (const k of ['historyMs', 'historyBytes', 'backlogBytes', 'backlogMs', 'keyframeGapMs'] as const) {
    if (!(Number.isFinite(o[k]) && o[k] >= 0)) throw new RangeError(`${k} must be a number >= 0, got ${String(o[k])}`);
  }
  return o;
}

/** What a session asks for: null where warmup measures it. */
export interface Wanted {
  fps: number | null;
  width: number | null;
  height: number | null;
}

/** startStreaming()'s options against the previous session's values; throws RangeError for a bad one. */
export function wantedFor(options: StartOptions, last: { fps?: number; width?: number; height?: number }): Wanted {
  return {
    fps: resolveValue('fps', options.fps, last.fps, (v) => v > 0 && v <= 1000, 'a number of frames per second in (0, 1000]'),
    width: resolveValue('width', options.width, last.width, isDimension, 'an integer from 16 to 16384'),
    height: resolveValue('height', options.height, last.height, isDimension, 'an integer from 16 to 16384'),
  };
}

/** Rounds a dimension up to even (I420 needs it). */
export function even(n: number): number {
  return n + (n & 1);
}

function isDimension(v: number): boolean {
  return Number.isInteger(v) && v >= 16 && v <= 16384;
}

function resolveValue(
  name: string,
  v: number | null | undefined,
  last: number | undefined,
  valid: (v: number) => boolean,
  expected: string,
): number | null {
  if (v === undefined || v === USE_LAST_VALUE) return last ?? null;
  if (v === null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v) || !valid(v)) {
    throw new RangeError(`${name} must be ${expected}, null (measure it) or USE_LAST_VALUE, got ${String(v)}`);
  }
  return name === 'fps' ? v : even(v);
}
