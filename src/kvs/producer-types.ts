/**
 * The PutMedia producer's options, events and stats (kept apart from producer.ts so the
 * producer's logic stays one readable file).
 */
import type { Ack } from './acks.js';
import type { ControlPlane } from './control-plane.js';
import type { CredentialSource } from './credentials.js';
import type { KvsError } from './errors.js';
import type { Fragment } from './fragmenter.js';

export interface ProducerOptions {
  streamName: string;
  region: string;
  credentials: CredentialSource;
  controlPlane: ControlPlane;
  width: number;
  height: number;
  fps?: number;
  /** Unpersisted fragments are kept this long for resending (default 120 s, like kvssink). */
  bufferSeconds?: number;
  /** Target fragment duration in seconds (default 2). */
  fragmentSeconds?: number;
  requestKeyframe?: () => void;
  /** Rotate the PutMedia connection after this long (default 40 min). */
  rotateAfterMs?: number;
  /** Backoff after faults: first delay and cap, ms. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Reconnect when sent fragments get no ack at all for this long. */
  stallTimeoutMs?: number;
  /** A fragment answered with retryable ERROR acks this often is dropped. */
  maxFragmentAttempts?: number;
  log?: ProducerLog;
}

export interface ProducerLog {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface KvsAckEvent extends Ack {
  connectionId: number;
  /** PERSISTED only: ms from the arrival of the fragment's last frame to this ack. */
  latencyMs?: number;
}

export interface ProducerStats {
  fragmentsStarted: number;
  fragmentsPersisted: number;
  /** Fragments that fell out of the buffer window unpersisted. */
  fragmentsDropped: number;
  /** Fragments KVS refused as invalid (ERROR acks that resending cannot fix). */
  fragmentsRejected: number;
  /** Frames dropped while waiting for a keyframe. */
  framesDropped: number;
  /** Frames inside the dropped and rejected fragments. */
  framesDiscarded: number;
  framesIn: number;
  bufferedFragments: number;
  bufferedMs: number;
  /** Bytes of the fragments not yet persisted. */
  bufferedBytes: number;
  connections: number;
  reconnects: number;
  rotations: number;
  errorAcks: Record<string, number>;
  bytesSent: number;
  /** put()-to-PERSISTED latency, ms: from the arrival of a fragment's last frame to its PERSISTED ack. */
  persistLatencyMs: { last?: number; p50?: number; p95?: number; max?: number; samples: number };
  /** Same, from the fragment's first frame (includes the fragment's own duration). */
  persistLatencyFromFirstFrameMs: { p50?: number; max?: number };
  lastPersistedAt?: number;
}

export interface ProducerReconnect {
  /** Failures in a row, 1 for the first. */
  attempt: number;
  delayMs: number;
  reason: string;
}

export interface ProducerEvents {
  ack: [KvsAckEvent];
  /** A fault that was handled (the stream goes on). */
  fault: [KvsError];
  /** A new connection is due after a fault, in delayMs. */
  reconnect: [ProducerReconnect];
  /** A permanent failure: the producer has stopped. */
  error: [KvsError];
}

/** The producer's counters, as stats() reports them. */
export interface ProducerCounters {
  fragmentsStarted: number;
  fragmentsPersisted: number;
  fragmentsDropped: number;
  fragmentsRejected: number;
  framesDiscarded: number;
  connections: number;
  reconnects: number;
  rotations: number;
  errorAcks: Record<string, number>;
  bytesSent: number;
  lastLatency: number | undefined;
  lastPersistedAt: number | undefined;
}

export function newCounters(): ProducerCounters {
  return {
    fragmentsStarted: 0,
    fragmentsPersisted: 0,
    fragmentsDropped: 0,
    fragmentsRejected: 0,
    framesDiscarded: 0,
    connections: 0,
    reconnects: 0,
    rotations: 0,
    errorAcks: {},
    bytesSent: 0,
    lastLatency: undefined,
    lastPersistedAt: undefined,
  };
}

function percentile(sorted: number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** Keeps the newest 512 samples of a latency. */
export function pushSample(list: number[], v: number): void {
  list.push(v);
  if (list.length > 512) list.shift();
}

export function producerStats(
  s: ProducerCounters,
  buffer: readonly Fragment[],
  frames: { framesIn: number; framesDropped: number },
  latencies: readonly number[],
  latenciesFirst: readonly number[],
): ProducerStats {
  const sorted = [...latencies].sort((a, b) => a - b);
  const sortedFirst = [...latenciesFirst].sort((a, b) => a - b);
  const unpersisted = buffer.filter((f) => !f.persisted);
  const newest = buffer[buffer.length - 1];
  return {
    fragmentsStarted: s.fragmentsStarted,
    fragmentsPersisted: s.fragmentsPersisted,
    fragmentsDropped: s.fragmentsDropped,
    fragmentsRejected: s.fragmentsRejected,
    framesDropped: frames.framesDropped,
    framesDiscarded: s.framesDiscarded,
    framesIn: frames.framesIn,
    bufferedFragments: unpersisted.length,
    bufferedMs: unpersisted.length && newest ? newest.timecodeMs - unpersisted[0]!.timecodeMs : 0,
    bufferedBytes: unpersisted.reduce((n, f) => n + f.bytes, 0),
    connections: s.connections,
    reconnects: s.reconnects,
    rotations: s.rotations,
    errorAcks: { ...s.errorAcks },
    bytesSent: s.bytesSent,
    persistLatencyMs: {
      last: s.lastLatency,
      p50: percentile(sorted, 0.5),
      p95: percentile(sorted, 0.95),
      max: sorted[sorted.length - 1],
      samples: sorted.length,
    },
    persistLatencyFromFirstFrameMs: { p50: percentile(sortedFirst, 0.5), max: sortedFirst[sortedFirst.length - 1] },
    lastPersistedAt: s.lastPersistedAt,
  };
}
