/**
 * RtmpSkyLine: publishes the stream as H.264 in FLV over RTMP(S) to a relay (Chrysalis,
 * nginx-rtmp, MediaMTX, streaming platforms): a SkyLine with one built-in RtmpDestination.
 *
 * The relay may be down at start or go away mid-stream: the destination reconnects with capped
 * exponential backoff while the SkyLine is 'reconnecting' and put() drops and counts frames;
 * every new connection starts at a keyframe.
 */
import { RtmpDestination } from '../destinations/rtmp/rtmp-destination.js';
import { SkyLine, type SkyLineEvents, type SkyLineOptions } from '../skyline.js';
import type { RtmpErrorCode } from './errors.js';
import type { RtmpPublishOptions, RtmpSinkElement } from './publish.js';
import { rtmpTarget, type RtmpTargetOptions } from './url.js';

export type { RtmpSinkElement };

export interface RtmpSkyLineOptions extends SkyLineOptions, RtmpTargetOptions, RtmpPublishOptions {}

export interface RtmpSkyLineEvents extends SkyLineEvents {
  /** An RtmpError (with `code`) for what the relay or network did; other errors have no code. */
  error: [err: Error & { code?: RtmpErrorCode }];
}

export class RtmpSkyLine extends SkyLine<RtmpSkyLineEvents> {
  /** Where this SkyLine publishes, with the key masked: safe to show. */
  readonly destination: string;
  private readonly relay: RtmpDestination;

  constructor(options: RtmpSkyLineOptions) {
    if (!options || typeof options !== 'object') throw new TypeError('RtmpSkyLine needs options: { url } or { host, streamKey }');
    // Parse before anything else so a bad URL fails fast, with the key masked.
    const target = rtmpTarget(options);
    // The destination reads its own fields (target, publish settings, reconnect) from the options.
    const relay = new RtmpDestination(options);
    // The whole URL too: a key under 4 characters is not scrubbed on its own, but is inside the URL.
    super(options, { destination: relay, secrets: [[target.url, target.masked], ...target.secrets] });
    this.destination = target.masked;
    this.relay = relay;
  }

  /** True while a publish is confirmed and frames flow to the relay. */
  get connected(): boolean {
    return this.relay.connected && this.state === 'streaming';
  }

  /** The GStreamer element used (known after the first startStreaming()). */
  get sinkElement(): RtmpSinkElement | undefined {
    return this.relay.sinkElement;
  }
}

