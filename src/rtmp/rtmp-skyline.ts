/**
 * RtmpSkyLine: publishes the stream as H.264 in FLV over RTMP(S) to a relay
 * (Chrysalis, nginx-rtmp, MediaMTX, streaming platforms).
 *
 * The relay may be down at start or go away mid-stream: the base class restarts
 * the pipeline with capped exponential backoff while put() drops and counts
 * frames. rtmp2sink connects on its own after the pipeline plays, so "ready"
 * here means the relay answered the publish (the sink's connection stats come
 * alive), and frames are held back until then: a restarted encoder's first
 * frame, a keyframe, is the first thing each new connection gets.
 */
import type { GstError, Pipeline } from '../gst/pipeline.js';
import { hasElement } from '../gst/registry.js';
import { SkyLine, type SessionInfo, type SinkSpec, type SkyLineEvents, type SkyLineOptions } from '../skyline.js';
import { connectTimeoutError, explainRtmpError, RtmpError, type RtmpErrorCode } from './errors.js';
import { parseRtmpStats } from './sink-stats.js';
import { redactTarget, rtmpTarget, type RtmpTarget, type RtmpTargetOptions } from './url.js';

export type RtmpSinkElement = 'rtmp2sink' | 'rtmpsink';

export interface RtmpSkyLineOptions extends SkyLineOptions, RtmpTargetOptions {
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

/** The sink element's name inside the pipeline. */
const SINK = 'rtmpsink';
const POLL_MS = 50;
/**
 * How long a fresh publish must survive before frames flow: relays that refuse a key
 * by hanging up right after acknowledging the publish (nginx-rtmp "deny publish") do
 * so within milliseconds; this tells that apart from an outage.
 */
const SETTLE_MS = 300;

export interface RtmpSkyLineEvents extends SkyLineEvents {
  /** An RtmpError (with `code`) for what the relay or network did; other errors have no code. */
  error: [err: Error & { code?: RtmpErrorCode }];
}

export class RtmpSkyLine extends SkyLine<RtmpSkyLineEvents> {
  /** Where this SkyLine publishes, with the key masked: safe to show. */
  readonly destination: string;
  /** Holds the stream key: an ES private field, so inspecting or serializing the SkyLine never shows it. */
  readonly #target: RtmpTarget;
  private readonly sinkChoice: RtmpSinkElement | 'auto';
  private readonly connectTimeoutMs: number;
  private readonly tlsVerify: boolean;
  private element: RtmpSinkElement | undefined;
  private pipeline: Pipeline | undefined;
  private published = false;
  private bytesEarlier = 0;
  private bytesLastSeen = 0;
  private connections = 0;

  constructor(options: RtmpSkyLineOptions) {
    if (!options || typeof options !== 'object') throw new TypeError('RtmpSkyLine needs options: { url } or { host, streamKey }');
    // Parse before anything else so a bad URL fails fast, with the key masked.
    const target = rtmpTarget(options);
    super(options);
    this.#target = target;
    // The whole URL too: a key under 4 characters is not scrubbed on its own, but is inside the URL.
    redactTarget(this.redactor, target);
    this.destination = target.masked;
    const sinkChoice = options.sinkElement ?? 'auto';
    if (!['auto', 'rtmp2sink', 'rtmpsink'].includes(sinkChoice)) {
      throw new RangeError(`sinkElement must be 'auto', 'rtmp2sink' or 'rtmpsink', got ${JSON.stringify(sinkChoice)}`);
    }
    this.sinkChoice = sinkChoice;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    if (!(this.connectTimeoutMs > 0)) throw new RangeError(`connectTimeoutMs must be positive, got ${this.connectTimeoutMs}`);
    this.tlsVerify = options.tlsVerify ?? true;
  }

  /** True while a publish is confirmed and frames flow to the relay. */
  get connected(): boolean {
    return this.published && this.state === 'streaming';
  }

  /** The GStreamer element used (known after the first startStreaming()). */
  get sinkElement(): RtmpSinkElement | undefined {
    return this.element;
  }

  protected async sink(_session: SessionInfo): Promise<SinkSpec> {
    this.element ??= await this.pickElement();
    const props = [`name=${SINK}`, 'sync=false'];
    if (this.element === 'rtmp2sink') {
      // The sink's socket timeout (s): bounds the TCP connect and, later, any write that makes no
      // progress, so a relay that hangs is noticed. Ours (connectTimeoutMs) bounds the whole publish.
      props.push(`timeout=${Math.max(1, Math.ceil(this.connectTimeoutMs / 1000))}`);
      // Flags can only be set from the launch string (the binding cannot set enums/flags).
      if (this.#target.scheme === 'rtmps' && !this.tlsVerify) props.push('tls-validation-flags=no-flags');
    }
    // The location (with the stream key) is set in configurePipeline, never in the launch string.
    return { kind: 'gst', launch: `flvmux name=flvmux streamable=true ! ${this.element} ${props.join(' ')}`, streamFormat: 'avc' };
  }

  protected override async openDestination(): Promise<void> {
    this.bytesEarlier = 0;
    this.bytesLastSeen = 0;
    this.connections = 0;
    this.published = false;
    this.log.info({ destination: this.destination, sink: this.element }, 'publishing to RTMP relay');
  }

  protected override configurePipeline(pipeline: Pipeline): void {
    this.pipeline = pipeline;
    pipeline.set(SINK, 'location', this.#target.url);
  }

  protected override destinationReady(pipeline: Pipeline, signal: AbortSignal): Promise<void> {
    this.published = false;
    // rtmpsink (librtmp) connects on its first buffer and reports nothing before. No connection
    // of our own to test the relay: a one-client server (ffmpeg -listen 1) would take it as its
    // publisher. A relay that is down shows as the sink's own error on the first frame.
    if (this.element !== 'rtmp2sink') return this.markPublished();
    return new Promise<void>((resolve, reject) => {
      const started = Date.now();
      let confirmedAt = 0;
      let timer: NodeJS.Timeout | undefined;
      const finish = (err?: Error) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else this.markPublished().then(resolve, reject);
      };
      const onAbort = () => finish(new Error('publish attempt ended'));
      const tick = () => {
        const stats = parseRtmpStats(this.readStats(pipeline));
        const now = Date.now();
        if (stats?.connected) {
          if (!confirmedAt) confirmedAt = now;
          if (now - confirmedAt >= SETTLE_MS) return finish();
        } else if (confirmedAt) {
          confirmedAt = 0; // dropped again: the bus error follows and ends this attempt
        }
        if (now - started >= this.connectTimeoutMs) return finish(connectTimeoutError(this.#target, this.connectTimeoutMs, SINK));
        timer = setTimeout(tick, POLL_MS);
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      tick();
    });
  }

  protected override retryableSinkError(err: GstError): boolean {
    // Everything the relay or network does to us is worth another try (a refused key may
    // be enabled later, a stopped relay restarted). Upstream elements then report
    // "streaming stopped, reason error": that is the sink's failure seen from above.
    if (err instanceof RtmpError) return true;
    return err.element === SINK || /reason error \(-5\)/.test(err.debug ?? '');
  }

  protected override explainSinkError(err: GstError): GstError {
    if (err.element !== SINK) return err;
    const explained = explainRtmpError(err, this.#target, { published: this.published });
    this.published = false;
    return explained;
  }

  protected override bytesDelivered(): number {
    const now = this.currentBytes();
    if (now < this.bytesLastSeen) this.bytesEarlier += this.bytesLastSeen; // a new connection counts from 0
    this.bytesLastSeen = now;
    return this.bytesEarlier + now;
  }

  protected override async closeDestination(): Promise<void> {
    this.bytesDelivered();
    this.published = false;
    this.pipeline = undefined;
  }

  private async markPublished(): Promise<void> {
    this.published = true;
    this.connections++;
    this.log.info({ destination: this.destination, connection: this.connections }, 'RTMP publish accepted');
  }

  private currentBytes(): number {
    if (!this.pipeline || this.element !== 'rtmp2sink') return 0;
    return parseRtmpStats(this.readStats(this.pipeline))?.outBytesTotal ?? 0;
  }

  private readStats(pipeline: Pipeline): unknown {
    try {
      return pipeline.element(SINK).stats;
    } catch {
      return undefined;
    }
  }

  private async pickElement(): Promise<RtmpSinkElement> {
    if (this.sinkChoice !== 'auto') {
      if (!(await hasElement(this.sinkChoice))) {
        throw new Error(`GStreamer element ${this.sinkChoice} is not installed (gstreamer1.0-plugins-bad)`);
      }
      return this.sinkChoice;
    }
    if (await hasElement('rtmp2sink')) return 'rtmp2sink';
    if (await hasElement('rtmpsink')) return 'rtmpsink';
    throw new Error('neither rtmp2sink nor rtmpsink is installed: install gstreamer1.0-plugins-bad');
  }
}
