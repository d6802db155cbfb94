/**
 * LiveSource's relay: the camera's own H.264 access units, re-served through a Fanout to any
 * number of destinations (a file, an RTSP mount, RTMP, KVS) with no decoder and no encoder. Each
 * unit the ring keeps is converted once (relay-units.ts) and offered to every destination; one
 * that joins mid-stream starts at a keyframe of the history (pre-roll), SPS/PPS in front.
 */
import type { Logger } from 'pino';
import type { Destination, DestinationError, DestinationStats } from '../destinations/destination.js';
import { Fanout } from '../destinations/fanout.js';
import type { Redactor } from '../log.js';
import { SourceError } from './errors.js';
import type { EncodedRing, EncodedUnit } from './ring-buffer.js';
import { H264_CAPS, RelayUnits, relayVideoInfo } from './relay-units.js';
import type { StreamCaps } from './units.js';

export interface AttachOptions {
  /**
   * Video from before the call to send first, ms: the destination starts at the keyframe
   * captured at or before now - preRollMs. Default 0: the newest keyframe, so it starts at once
   * (a camera cannot be asked for a new one).
   */
  preRollMs?: number;
}

/** What the relay needs from its LiveSource. */
export interface RelayHost {
  readonly ring: EncodedRing;
  caps(): StreamCaps | undefined;
  readonly log: Logger;
  readonly redactor: Redactor;
  /** Span and bytes of the pre-roll history (the source's own buffer limits). */
  readonly historyMs: number;
  readonly historyBytes: number;
  /** A destination's error (its name in it), or the source that turned out not to be H.264. */
  error(err: DestinationError | SourceError): void;
}

/** How long close() and detach() give destinations to finish when no signal is given. */
const CLOSE_MS = 10_000;

export class Relay {
  private readonly units = new RelayUnits();
  private readonly fanout: Fanout;
  /** The fanout has a stream (begin() and start() were called, end() not yet). */
  private streaming = false;
  private keyframeAsked = false;
  private wrongCodecReported = false;

  constructor(private readonly host: RelayHost) {
    this.fanout = new Fanout({
      history: { ms: host.historyMs, bytes: host.historyBytes },
      backlog: { ms: 10_000, bytes: 16 * 2 ** 20 },
      log: host.log,
      redactor: host.redactor,
      keyframeGapMs: 1000,
      requestKeyframe: () => {
        // The camera keeps its own keyframe interval; nothing reaches it from here.
        if (this.keyframeAsked) return;
        this.keyframeAsked = true;
        host.log.debug('a destination asked for a keyframe; a relayed camera cannot be asked (it keeps its own interval)');
      },
      error: (err) => host.error(err),
      state: (d, next, previous) => host.log.debug({ destination: d.name, state: next, previous }, 'destination state'),
    });
    // Joining a stream already flowing: the buffer is the history, so pre-roll works at once.
    const key = host.ring.lastKeyframe();
    if (key && this.h264()) this.begin(host.ring.range(host.ring.oldest!.seq));
  }

  /**
   * Adds `dest`. While the source streams, opens it and resolves once it takes video; before the
   * first keyframe, resolves at once and the stream opens it when it comes. Rejects for a source
   * that is not H.264, and when the destination cannot open.
   */
  async attach(dest: Destination, opts: AttachOptions = {}): Promise<void> {
    const codec = this.host.caps()?.codec;
    if (codec !== undefined && codec !== H264_CAPS) throw this.wrongCodec(codec);
    await this.fanout.attach(dest, { preRollMs: opts.preRollMs ?? 0 });
  }

  /** Stops sending to `dest`; resolves once it finished what it took (a file complete), or when `signal` aborts. */
  async detach(dest: Destination, signal: AbortSignal = AbortSignal.timeout(CLOSE_MS)): Promise<void> {
    await this.fanout.detach(dest, signal);
  }

  get destinations(): Destination[] {
    return this.fanout.destinations;
  }

  /** A unit the ring kept (LiveSource.onUnit). */
  onUnit(u: EncodedUnit): void {
    if (!this.h264()) {
      const codec = this.host.caps()?.codec ?? 'unknown';
      if (this.fanout.destinations.length > 0 && !this.wrongCodecReported) {
        this.wrongCodecReported = true;
        this.host.error(this.wrongCodec(codec));
      }
      return;
    }
    // Converted first: a keyframe's SPS gives the size the stream's destinations open with.
    const au = this.units.convert(u);
    if (!au) return;
    if (!this.streaming) {
      if (!au.keyframe) return;
      this.begin([]);
    }
    this.fanout.write(au);
  }

  /** The source stopped or ended: every destination delivers what it took and closes (they stay attached). */
  async end(signal: AbortSignal = AbortSignal.timeout(CLOSE_MS)): Promise<void> {
    if (!this.streaming) return;
    this.streaming = false;
    await this.fanout.end(signal);
  }

  stats(): DestinationStats[] {
    return this.fanout.stats();
  }

  /** Detaches and disposes of every destination (the source closes). */
  async close(signal: AbortSignal = AbortSignal.timeout(CLOSE_MS)): Promise<void> {
    this.streaming = false;
    await this.fanout.dispose(signal);
  }

  private h264(): boolean {
    return this.host.caps()?.codec === H264_CAPS;
  }

  /** Starts the fanout's stream at a keyframe: `history` (ring units from a keyframe) seeds pre-roll. */
  private begin(history: EncodedUnit[]): void {
    this.streaming = true;
    this.fanout.begin();
    for (const u of history) {
      const au = this.units.convert(u);
      if (au) this.fanout.history.add(au);
    }
    const video = relayVideoInfo(this.host.caps(), this.units, this.host.ring);
    // Destinations attached before the stream open now; one that cannot is reported, not thrown.
    this.fanout.start(video).catch((err: DestinationError) => this.host.error(err));
  }

  private wrongCodec(codec: string): SourceError {
    const what = codec === 'image/jpeg' ? 'MJPEG (image/jpeg)' : codec;
    return new SourceError('UNSUPPORTED_CODEC', `only H.264 sources can be relayed without re-encoding; this one is ${what}: read its frames and stream them with a SkyLine instead`);
  }
}
