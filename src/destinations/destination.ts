// The destination interface: one place encoded video goes (a file, an RTSP mount, a relay, KVS).
// A SkyLine's encoder, or a LiveSource's camera, hands each destination the same access units;
// each destination has its own state, stats, errors, reconnects and backlog, so one that stalls
// or fails never holds up the encoder or the others.
import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { AccessUnit } from '../h264/access-unit.js';

/**
 * idle: not opened (or closed, and may be opened again). opening: open() runs. streaming: takes
 * video. reconnecting: lost its peer, retrying with backoff. closing: close() delivers what it
 * took. failed: gave up for good (see lastError); close() still releases it.
 */
export type DestinationState = 'idle' | 'opening' | 'streaming' | 'reconnecting' | 'closing' | 'failed';

/** The video a destination is opened for. */
export interface VideoInfo {
  width: number;
  height: number;
  /** Frames per second (measured or given); a hint for containers and players. */
  fps: number;
  /** GStreamer fraction of fps, e.g. "30000/1001". */
  framerate: string;
}

/** What the producer (a SkyLine's encoder, a LiveSource) offers a destination. */
export interface DestinationLink {
  /** Asks for a keyframe soon (new viewer, reconnect). Rate-limited by the producer; a relayed camera may ignore it. */
  requestKeyframe(): void;
  /** A logger for this destination, secrets scrubbed. */
  readonly log: Logger;
  /** Registers a secret to be masked in every log line and error of the producer. */
  addSecret(secret: string | undefined): void;
}

export interface DestinationStats {
  /** What the destination is, secrets masked: "file:/data/a.mp4", "rtmp://relay/live/****". */
  name: string;
  kind: string;
  state: DestinationState;
  /** Bytes sent or written (container/transport payload as the destination counts it). */
  bytesOut: number;
  /** Access units the destination took. */
  unitsIn: number;
  /** Access units it never delivered: backlog over budget, waiting for a keyframe after a loss. */
  unitsDropped: number;
  /** Reconnects after a lost peer (not counting the first connection). */
  reconnects: number;
  /** Capture-time age of the oldest unit taken and not yet delivered, ms (0: caught up). */
  behindMs: number;
  /** Bytes waiting in the destination's backlog. */
  backlogBytes: number;
  /** Last error's message, secrets masked. */
  lastError?: string;
}

export interface DestinationReconnect {
  attempt: number;
  delayMs: number;
  reason: string;
}

export interface DestinationEvents {
  state: [state: DestinationState, previous: DestinationState];
  /** Carries `destination` (the name); the message starts with it too. */
  error: [err: DestinationError];
  reconnect: [info: DestinationReconnect];
  /** write() may be called again after it returned false. */
  drain: [];
}

/** An error of one destination: the SkyLine or LiveSource re-emits it with the name in it. */
export class DestinationError extends Error {
  /** Set by protocol-specific errors (RtmpError's code, KvsError's details) kept as `cause`. */
  readonly code: string | undefined;
  constructor(readonly destination: string, cause: Error) {
    super(`${destination}: ${cause.message}`, { cause });
    this.name = 'DestinationError';
    this.code = (cause as { code?: unknown }).code === undefined ? undefined : String((cause as { code?: unknown }).code);
  }
}

/**
 * One place encoded video goes. The producer calls open() once per stream, write() for each
 * access unit in decode order (the first is a keyframe with SPS/PPS), and close() at the end.
 * After close() the destination may be opened again (a new SkyLine session).
 */
export interface Destination extends EventEmitter<DestinationEvents> {
  readonly kind: string;
  /** Safe to show: secrets masked. */
  readonly name: string;
  readonly state: DestinationState;
  /**
   * True when someone watches live (RTSP, web, RTMP, KVS): the encoder then runs in its live
   * configuration. Files are not live.
   */
  readonly live: boolean;
  /**
   * True when it keeps what it takes while 'reconnecting' and sends it once back (KVS buffers up
   * to bufferSeconds). A SkyLine whose own destination this is then keeps taking frames.
   */
  readonly buffersWhileReconnecting?: boolean;
  /**
   * Prepares for `video` and resolves once the destination takes video (a file is open, a
   * server listens, a relay accepted the publish). A relay that is down does not reject: the
   * destination resolves in 'reconnecting' and keeps trying. Rejects for what retrying cannot fix.
   */
  open(video: VideoInfo, link: DestinationLink): Promise<void>;
  /**
   * Takes one access unit, PTS on the producer's clock, capture time true. Never blocks and
   * never throws. Returns false when the destination cannot take it now (its own queue is full):
   * the producer keeps it in the destination's backlog and offers it again after 'drain'.
   */
  write(au: AccessUnit): boolean;
  /**
   * Delivers or finalizes what it took (a file complete and playable, KVS fragments
   * persisted), then releases its connections; resolves when done or when `signal` aborts.
   */
  close(signal: AbortSignal): Promise<void>;
  /**
   * Optional: a stream is about to begin, its size not known yet (warmup). A server binds its
   * port here, so its URL is final once startStreaming() resolves.
   */
  prepare?(): Promise<void>;
  /** Releases for good what outlives a stream (a server it created). Closed first if needed. */
  dispose(): Promise<void>;
  stats(): DestinationStats;
}

/** Whether `v` looks like a destination (what attach() checks before taking it). */
export function isDestination(v: unknown): v is Destination {
  return !!v && typeof (v as Partial<Destination>).write === 'function' && typeof (v as Partial<Destination>).open === 'function';
}

/** What `v` is, for an error message: its type, or its class. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v !== 'object') return typeof v;
  return (v as object).constructor?.name ?? 'an object';
}
