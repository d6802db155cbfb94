// Publishing H.264 in FLV to an RTMP relay through a GStreamer sink, whoever encodes: the
// sink element, the tail's launch string, when a publish counts as accepted, which errors
// another attempt may cure, and the bytes sent over every connection. RtmpSkyLine and
// RtmpDestination share these.
import type { GstError } from '../gst/pipeline.js';
import { hasElement } from '../gst/registry.js';
import { connectTimeoutError, RtmpError } from './errors.js';
import { parseRtmpStats } from './sink-stats.js';
import type { RtmpTarget } from './url.js';

export type RtmpSinkElement = 'rtmp2sink' | 'rtmpsink';

export interface RtmpPublishOptions {
  /** GStreamer sink: 'auto' (default) picks rtmp2sink, else rtmpsink (librtmp). */
  sinkElement?: RtmpSinkElement | 'auto';
  /**
   * Longest wait for the relay to accept a publish, ms; also how long a connection may
   * make no progress (relay hung, network gone) before it is dropped and redone. Default 10000.
   */
  connectTimeoutMs?: number;
  /**
   * rtmps: check the relay's certificate. Default true. false accepts any certificate
   * (self-signed test relays only: it gives up protection against interception).
   */
  tlsVerify?: boolean;
}

export interface RtmpPublishSettings {
  sinkElement: RtmpSinkElement | 'auto';
  connectTimeoutMs: number;
  tlsVerify: boolean;
}

/** The sink element's name inside the pipeline. */
export const RTMP_SINK = 'rtmpsink';
const POLL_MS = 50;
/**
 * How long a fresh publish must survive before frames flow: relays that refuse a key
 * by hanging up right after acknowledging the publish (nginx-rtmp "deny publish") do
 * so within milliseconds; this tells that apart from an outage.
 */
const SETTLE_MS = 300;

/** The options with their defaults, checked (throws RangeError). */
export function rtmpPublishSettings(options: RtmpPublishOptions): RtmpPublishSettings {
  const sinkElement = options.sinkElement ?? 'auto';
  if (!['auto', 'rtmp2sink', 'rtmpsink'].includes(sinkElement)) {
    throw new RangeError(`sinkElement must be 'auto', 'rtmp2sink' or 'rtmpsink', got ${JSON.stringify(sinkElement)}`);
  }
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  if (!(connectTimeoutMs > 0)) throw new RangeError(`connectTimeoutMs must be positive, got ${connectTimeoutMs}`);
  return { sinkElement, connectTimeoutMs, tlsVerify: options.tlsVerify ?? true };
}

/** The element to use: the one asked for (checked), or rtmp2sink, else rtmpsink. */
export async function pickRtmpSink(choice: RtmpSinkElement | 'auto'): Promise<RtmpSinkElement> {
  if (choice !== 'auto') {
    if (!(await hasElement(choice))) throw new Error(`GStreamer element ${choice} is not installed (gstreamer1.0-plugins-bad)`);
    return choice;
  }
  if (await hasElement('rtmp2sink')) return 'rtmp2sink';
  if (await hasElement('rtmpsink')) return 'rtmpsink';
  throw new Error('neither rtmp2sink nor rtmpsink is installed: install gstreamer1.0-plugins-bad');
}

/**
 * The tail after `h264parse ! video/x-h264,stream-format=avc,alignment=au`. The location (with
 * the stream key) is never in it: set it on RTMP_SINK as a property after parsing.
 */
export function rtmpTail(element: RtmpSinkElement, target: Pick<RtmpTarget, 'scheme'>, s: RtmpPublishSettings): string {
  const props = [`name=${RTMP_SINK}`, 'sync=false'];
  if (element === 'rtmp2sink') {
    // The sink's socket timeout (s): bounds the TCP connect and, later, any write that makes no
    // progress, so a relay that hangs is noticed. connectTimeoutMs bounds the whole publish.
    props.push(`timeout=${Math.max(1, Math.ceil(s.connectTimeoutMs / 1000))}`);
    // Flags can only be set from the launch string (the binding cannot set enums/flags).
    if (target.scheme === 'rtmps' && !s.tlsVerify) props.push('tls-validation-flags=no-flags');
  }
  return `flvmux name=flvmux streamable=true ! ${element} ${props.join(' ')}`;
}

/**
 * Resolves once rtmp2sink holds a publishing connection that stayed up SETTLE_MS (its stats
 * come alive only after the relay answered the publish); rejects with a connect-timeout
 * RtmpError after timeoutMs, or when `signal` aborts. `readStats` reads the sink's `stats`.
 */
export function waitForPublish(readStats: () => unknown, target: RtmpTarget, timeoutMs: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const started = Date.now();
    let confirmedAt = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err?: Error) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    const onAbort = () => finish(new Error('publish attempt ended'));
    const tick = () => {
      const stats = parseRtmpStats(readStats());
      const now = Date.now();
      if (stats?.connected) {
        if (!confirmedAt) confirmedAt = now;
        if (now - confirmedAt >= SETTLE_MS) return finish();
      } else if (confirmedAt) {
        confirmedAt = 0; // dropped again: the bus error follows and ends this attempt
      }
      if (now - started >= timeoutMs) return finish(connectTimeoutError(target, timeoutMs, RTMP_SINK));
      timer = setTimeout(tick, POLL_MS);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    tick();
  });
}

/**
 * Whether another attempt may cure `err`. Everything the relay or network does to us is worth
 * another try (a refused key may be enabled later, a stopped relay restarted). Upstream elements
 * then report "streaming stopped, reason error": that is the sink's failure seen from above.
 */
export function retryableRtmpError(err: GstError): boolean {
  if (err instanceof RtmpError) return true;
  return err.element === RTMP_SINK || /reason error \(-5\)/.test(err.debug ?? '');
}

/** Bytes sent over all connections of a session: each new connection's counter starts at 0. */
export class RtmpByteCount {
  private earlier = 0;
  private lastSeen = 0;

  /** Takes the current connection's out-bytes-total (from the sink's stats); returns the total. */
  update(current: number): number {
    if (current < this.lastSeen) this.earlier += this.lastSeen;
    this.lastSeen = current;
    return this.earlier + current;
  }

  /** The connection ended (its last count is kept); the next one starts from 0. */
  connectionEnded(): void {
    this.earlier += this.lastSeen;
    this.lastSeen = 0;
  }

  get total(): number {
    return this.earlier + this.lastSeen;
  }
}

/** out-bytes-total of rtmp2sink's stats text (0 when none). */
export function outBytes(stats: unknown): number {
  return parseRtmpStats(stats)?.outBytesTotal ?? 0;
}
