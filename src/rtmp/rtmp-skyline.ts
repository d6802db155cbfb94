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
import { SkyLine, type SessionInfo, type SinkSpec, type SkyLineEvents, type SkyLineOptions } from '../skyline.js';
import { explainRtmpError, type RtmpErrorCode } from './errors.js';
import {
  outBytes, pickRtmpSink, retryableRtmpError, RTMP_SINK, RtmpByteCount, rtmpPublishSettings, rtmpTail, waitForPublish,
  type RtmpPublishOptions, type RtmpPublishSettings, type RtmpSinkElement,
} from './publish.js';
import { redactTarget, rtmpTarget, type RtmpTarget, type RtmpTargetOptions } from './url.js';

export type { RtmpSinkElement };

export interface RtmpSkyLineOptions extends SkyLineOptions, RtmpTargetOptions, RtmpPublishOptions {}

export interface RtmpSkyLineEvents extends SkyLineEvents {
  /** An RtmpError (with `code`) for what the relay or network did; other errors have no code. */
  error: [err: Error & { code?: RtmpErrorCode }];
}

export class RtmpSkyLine extends SkyLine<RtmpSkyLineEvents> {
  /** Where this SkyLine publishes, with the key masked: safe to show. */
  readonly destination: string;
  /** Holds the stream key: an ES private field, so inspecting or serializing the SkyLine never shows it. */
  readonly #target: RtmpTarget;
  private readonly settings: RtmpPublishSettings;
  private element: RtmpSinkElement | undefined;
  private pipeline: Pipeline | undefined;
  private published = false;
  private bytes = new RtmpByteCount();
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
    this.settings = rtmpPublishSettings(options);
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
    this.element ??= await pickRtmpSink(this.settings.sinkElement);
    return { kind: 'gst', launch: rtmpTail(this.element, this.#target, this.settings), streamFormat: 'avc' };
  }

  protected override async openDestination(): Promise<void> {
    this.bytes = new RtmpByteCount();
    this.connections = 0;
    this.published = false;
    this.log.info({ destination: this.destination, sink: this.element }, 'publishing to RTMP relay');
  }

  protected override configurePipeline(pipeline: Pipeline): void {
    this.pipeline = pipeline;
    pipeline.set(RTMP_SINK, 'location', this.#target.url);
  }

  protected override destinationReady(pipeline: Pipeline, signal: AbortSignal): Promise<void> {
    this.published = false;
    // rtmpsink (librtmp) connects on its first buffer and reports nothing before. No connection
    // of our own to test the relay: a one-client server (ffmpeg -listen 1) would take it as its
    // publisher. A relay that is down shows as the sink's own error on the first frame.
    if (this.element !== 'rtmp2sink') return this.markPublished();
    return waitForPublish(() => this.readStats(pipeline), this.#target, this.settings.connectTimeoutMs, signal).then(() => this.markPublished());
  }

  protected override retryableSinkError(err: GstError): boolean {
    return retryableRtmpError(err);
  }

  protected override explainSinkError(err: GstError): GstError {
    if (err.element !== RTMP_SINK) return err;
    const explained = explainRtmpError(err, this.#target, { published: this.published });
    this.published = false;
    return explained;
  }

  protected override bytesDelivered(): number {
    return this.bytes.update(this.currentBytes());
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
    return outBytes(this.readStats(this.pipeline));
  }

  private readStats(pipeline: Pipeline): unknown {
    try {
      return pipeline.element(RTMP_SINK).stats;
    } catch {
      return undefined;
    }
  }
}
