// Delivery: how a session's encoded video leaves the pipeline. Two strategies share this shape:
// a GStreamer sink ending the pipeline (gst-sink.ts) and the tap back into Node (tap.ts). The
// SkyLine drives either the same way and never asks which one it has.
import type { GstError, Pipeline } from '../gst/pipeline.js';
import type { AccessUnit } from '../h264/access-unit.js';

/** What a delivery asks of the SkyLine that owns it. */
export interface DeliveryHost {
  /** GStreamer tails: resolves once the destination takes data (the destinationReady() hook). */
  destinationReady(pipeline: Pipeline, signal: AbortSignal): Promise<void>;
  /** A tail's error as the user should read it (explainSinkError(), secrets scrubbed). */
  describeError(err: GstError): GstError;
  /** Whether reconnecting may cure this tail error (retryableSinkError()). */
  retryableSinkError(err: GstError): boolean;
  /** Tap: an encoded unit came back, PTS on the session's clock. */
  unit(au: AccessUnit): void;
  /** A delivering run failed. */
  failed(err: Error, retryable: boolean): void;
  /** Tap watchdog: frames wait to go into the encoder (queue or appsrc). */
  framesWaiting(): boolean;
  /**
   * The frame a unit came back for: `out` holds the PTS read from RTP (90 kHz, rounded) and the
   * capture time that implies; the host sets the frame's exact PTS and its put() capture time.
   */
  frameOf(out: { ptsNs: number; captureMs: number }): void;
}

export interface Delivery {
  readonly kind: 'gst' | 'tap';
  /** The launch-string tail; the same for every attempt and session, so the pipeline is reused. */
  readonly tail: string;
  /**
   * One attempt: plays the pipeline and resolves once the destination takes data. Rejects with
   * the reason it failed, or when `signal` aborts (stop, close, timeout).
   */
  attempt(pipeline: Pipeline, signal: AbortSignal): Promise<void>;
  /** Whether a failed attempt is worth another (`tries`: attempts made, this one included). */
  retryable(err: Error, tries: number): boolean;
  /** A frame went into appsrc: `ptsNs` on the session clock, `runOffsetNs` the run's PTS 0 on it. */
  pushed(ptsNs: number, runOffsetNs: number): void;
  /** Sends EOS; resolves once everything pushed went out, or when `signal` aborts. */
  finish(pipeline: Pipeline, signal: AbortSignal): Promise<void>;
  /** Stops the pipeline and releases what the attempt took (sockets, timers). */
  stop(pipeline: Pipeline): void;
  /** Frames encoded this session, given the frames pushed and what appsrc still holds. */
  encoded(pushed: number, appsrcLevel: number): number;
  /** Encoded bytes received this session (tap; 0 for GStreamer sinks). */
  bytes(): number;
}

/** Resolves when `signal` aborts; rejects never. */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** The reason a signal aborted, as an Error. */
export function abortError(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof Error ? r : new Error(typeof r === 'string' ? r : 'aborted');
}
