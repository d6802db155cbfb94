/**
 * A WebStream: one live H.264 stream at one path of a WebServer. Access units are pushed
 * once; each is framed once per viewer mode (a WebCodecs message, an MSE moof+mdat) and the
 * same bytes go to every viewer of that mode. The decoder setup (codec string, avcC, size)
 * comes from the stream's own SPS/PPS.
 */
import type { WebSocket } from 'ws';
import type { AccessUnit } from '../h264/access-unit.js';
import { buildAvcDecoderConfig, parameterSets, toLengthPrefixed } from '../h264/avcc.js';
import { avcCodecString } from '../h264/codec-string.js';
import { parseSps } from '../h264/nal.js';
import { initSegment, mediaSegment, TIMESCALE } from '../mp4/fragmented.js';
import type { WebAuth } from './auth.js';
import { Viewer, type ViewerLimits } from './viewer.js';
import {
  KIND_ACCESS_UNIT, KIND_INIT_SEGMENT, KIND_MEDIA_SEGMENT, parseClientMessage, videoMessage,
  type ConfigMessage, type PongMessage, type StatsMessage, type ViewerMode,
} from './wire.js';

export interface WebStreamStats {
  /** Viewers connected now. */
  viewers: number;
  /** Access units pushed. */
  accessUnits: number;
  /** Bytes sent to viewers, summed over them. */
  bytesSent: number;
  /** Access units a viewer missed for being behind, summed over viewers. */
  skippedUnits: number;
  /** Viewers disconnected for staying behind. */
  droppedViewers: number;
  /** Messages from pages that were not what we expect (the page was closed). */
  badMessages: number;
  keyframeRequests: number;
}

interface Config {
  message: ConfigMessage;
  text: string;
  init: Buffer;
}

const KEYFRAME_REQUEST_GAP_MS = 500;
/**
 * Declared duration of each MSE sample. A frame's true duration is only known when the next
 * one comes, and MSE (coded frame processing, "last frame duration") treats a decode-time
 * jump of more than twice the previous duration as a discontinuity: it then drops every
 * frame up to the next keyframe. Live capture times jitter (a 70 ms gap at 30 fps is
 * ordinary on a busy machine), so each sample claims 1 s; the next frame's own time cuts
 * it short. Gaps longer than twice that put MSE viewers back on a keyframe.
 */
const MSE_SAMPLE_DURATION = TIMESCALE;
const STATS_INTERVAL_MS = 1000;

export class WebStream {
  readonly viewers = new Set<Viewer>();
  private config: Config | undefined;
  private sps: Buffer | undefined;
  private pps: Buffer | undefined;
  private fps: number | null = null;
  private sequence = 0;
  private lastPtsNs = -Infinity;
  private counters = { accessUnits: 0, bytesSent: 0, skippedClosed: 0, droppedViewers: 0, badMessages: 0, keyframeRequests: 0 };
  private rate = { units: 0, bytes: 0, fps: 0, kbps: 0, at: Date.now() };
  private lastKeyframeRequest = 0;
  private keyframeTimer: NodeJS.Timeout | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly path: string,
    readonly name: string,
    readonly auth: WebAuth | undefined,
    private readonly limits: ViewerLimits,
    private readonly onKeyframeRequest: (() => void) | undefined,
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  setFrameRate(fps: number | undefined): void {
    this.fps = fps ?? null;
  }

  /** Adds a viewer on an open WebSocket: it gets the config now and pictures from the next keyframe. */
  addViewer(ws: WebSocket, mode: ViewerMode): Viewer {
    const v = new Viewer(ws, mode, this.limits);
    this.viewers.add(v);
    ws.on('message', (data, isBinary) => this.onMessage(v, data as Buffer, isBinary));
    ws.on('close', () => this.removeViewer(v));
    ws.on('error', (e: Error & { code?: string }) => {
      if (e.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.counters.badMessages++; // over maxPayload: closed 1009
      ws.terminate();
    });
    if (this.config) v.sendText(this.config.text, true);
    this.sendStats(v);
    this.requestKeyframe();
    this.ensureStatsTimer();
    return v;
  }

  /** One access unit, decode order. */
  pushAccessUnit(au: AccessUnit): void {
    if (this.closed) return;
    const now = Date.now();
    this.counters.accessUnits++;
    this.rate.units++;
    for (const n of au.nalus) this.rate.bytes += n.length;
    const ps = parameterSets(au.nalus);
    if (ps.sps[0] && ps.pps[0] && (!this.sps?.equals(ps.sps[0]) || !this.pps?.equals(ps.pps[0]))) this.newConfig(ps.sps[0], ps.pps[0]);
    const gapNs = au.ptsNs - this.lastPtsNs;
    this.lastPtsNs = au.ptsNs;
    const config = this.config;
    if (!config || this.viewers.size === 0) return;
    if (gapNs > (2 * MSE_SAMPLE_DURATION * 1e9) / TIMESCALE && !au.keyframe) this.mseDiscontinuity();

    // Framed lazily, once per mode, only if some viewer takes this unit.
    let sample: Buffer | undefined;
    let wc: Buffer | undefined;
    let mse: Buffer | undefined;
    const ptsUs = au.ptsNs / 1000;
    const getSample = () => (sample ??= toLengthPrefixed(au.nalus));
    const buildWc = () => (wc ??= videoMessage(KIND_ACCESS_UNIT, au.keyframe, au.captureMs, ptsUs, getSample()));
    const buildMse = () => {
      if (!mse) {
        const seg = mediaSegment({
          sequence: (this.sequence = (this.sequence % 0xfffffffe) + 1),
          baseDecodeTime: Math.round((au.ptsNs * TIMESCALE) / 1e9),
          samples: [{ data: getSample(), duration: MSE_SAMPLE_DURATION, keyframe: au.keyframe }],
        });
        mse = videoMessage(KIND_MEDIA_SEGMENT, au.keyframe, au.captureMs, ptsUs, seg);
      }
      return mse;
    };
    const initMsg = () => videoMessage(KIND_INIT_SEGMENT, false, au.captureMs, ptsUs, config.init);

    for (const v of this.viewers) {
      const before = v.mode === 'mse' && !v.initSent && au.keyframe ? initMsg : undefined;
      const r = v.deliver(au.keyframe, v.mode === 'mse' ? buildMse : buildWc, before, now);
      if (r === 'sent' && before) v.initSent = true;
      // Caught up after falling behind: ask for a keyframe rather than wait a whole GOP.
      if (r === 'recovered') this.requestKeyframe();
      if (r === 'stalled') {
        this.counters.droppedViewers++;
        v.ws.close(1008, 'too slow: the connection did not take the video for too long');
        // A socket that does not read will not complete the close handshake either.
        setTimeout(() => v.ws.terminate(), 1000).unref();
        this.removeViewer(v);
      }
    }
  }

  /** The stream stopped: viewers are told and stay connected, waiting for the next session. */
  endStream(reason = 'stream stopped'): void {
    const text = JSON.stringify({ type: 'end', reason });
    for (const v of this.viewers) {
      v.sendText(text, true);
      v.waitingKeyframe = true;
      v.initSent = false;
    }
    this.config = undefined;
    this.sps = this.pps = undefined;
    this.lastPtsNs = -Infinity;
  }

  /** Asks the producer for a keyframe, at most every 500 ms (later requests folded into one). */
  requestKeyframe(): void {
    if (this.closed || !this.onKeyframeRequest) return;
    const wait = this.lastKeyframeRequest + KEYFRAME_REQUEST_GAP_MS - Date.now();
    if (wait <= 0) this.fireKeyframeRequest();
    else if (!this.keyframeTimer) {
      this.keyframeTimer = setTimeout(() => {
        this.keyframeTimer = undefined;
        this.fireKeyframeRequest();
      }, wait);
      this.keyframeTimer.unref();
    }
  }

  stats(): WebStreamStats {
    let skipped = this.counters.skippedClosed;
    let bytes = this.counters.bytesSent;
    for (const v of this.viewers) {
      skipped += v.skipped;
      bytes += v.bytesSent;
    }
    return {
      viewers: this.viewers.size,
      accessUnits: this.counters.accessUnits,
      bytesSent: bytes,
      skippedUnits: skipped,
      droppedViewers: this.counters.droppedViewers,
      badMessages: this.counters.badMessages,
      keyframeRequests: this.counters.keyframeRequests,
    };
  }

  /** Closes every viewer (the server closes or the stream is unmounted). */
  close(code = 1001, reason = 'stream removed'): void {
    if (this.closed) return;
    this.closed = true;
    if (this.keyframeTimer) clearTimeout(this.keyframeTimer);
    if (this.statsTimer) clearInterval(this.statsTimer);
    for (const v of [...this.viewers]) {
      v.ws.close(code, reason);
      setTimeout(() => v.ws.terminate(), 1000).unref();
      this.removeViewer(v);
    }
  }

  /** MSE would drop frames up to the next keyframe anyway: wait for one and ask for it. */
  private mseDiscontinuity(): void {
    let any = false;
    for (const v of this.viewers) {
      if (v.mode !== 'mse' || v.waitingKeyframe) continue;
      v.waitingKeyframe = true;
      any = true;
    }
    if (any) this.requestKeyframe();
  }

  private newConfig(sps: Buffer, pps: Buffer): void {
    const info = parseSps(sps);
    const avcC = buildAvcDecoderConfig(sps, pps);
    const message: ConfigMessage = {
      type: 'config', name: this.name, codec: avcCodecString(sps), width: info.width, height: info.height,
      fps: this.fps, description: avcC.toString('base64'),
    };
    this.sps = Buffer.from(sps);
    this.pps = Buffer.from(pps);
    this.config = { message, text: JSON.stringify(message), init: initSegment({ width: info.width, height: info.height, avcC }) };
    for (const v of this.viewers) {
      v.waitingKeyframe = true;
      v.initSent = false;
      v.sendText(this.config.text, true);
    }
  }

  private onMessage(v: Viewer, data: Buffer, isBinary: boolean): void {
    const parsed = parseClientMessage(data, isBinary);
    if (!parsed.ok) {
      this.counters.badMessages++;
      // 1003: unsupported data (binary); 1008: a policy violation (anything else unexpected).
      v.ws.close(isBinary ? 1003 : 1008, parsed.error.slice(0, 120));
      setTimeout(() => v.ws.terminate(), 1000).unref();
      return;
    }
    const msg = parsed.message;
    if (msg.type === 'keyframe') {
      if (v.wantsKeyframe(Date.now())) this.requestKeyframe();
      return;
    }
    const pong: PongMessage = { type: 'pong', t: msg.t, now: Date.now() };
    v.sendText(JSON.stringify(pong));
  }

  private removeViewer(v: Viewer): void {
    if (!this.viewers.delete(v)) return;
    this.counters.skippedClosed += v.skipped;
    this.counters.bytesSent += v.bytesSent;
    if (this.viewers.size === 0 && this.statsTimer) {
      clearInterval(this.statsTimer);
      this.statsTimer = undefined;
    }
  }

  private ensureStatsTimer(): void {
    if (this.statsTimer) return;
    this.statsTimer = setInterval(() => {
      const now = Date.now();
      const dt = Math.max(1, now - this.rate.at) / 1000;
      this.rate.fps = this.rate.units / dt;
      this.rate.kbps = (this.rate.bytes * 8) / 1000 / dt;
      this.rate.units = this.rate.bytes = 0;
      this.rate.at = now;
      for (const v of this.viewers) this.sendStats(v);
    }, STATS_INTERVAL_MS);
    this.statsTimer.unref();
  }

  private sendStats(v: Viewer): void {
    const msg: StatsMessage = { type: 'stats', viewers: this.viewers.size, fps: round1(this.rate.fps), kbps: Math.round(this.rate.kbps) };
    v.sendText(JSON.stringify(msg));
  }

  private fireKeyframeRequest(): void {
    this.lastKeyframeRequest = Date.now();
    this.counters.keyframeRequests++;
    try {
      this.onKeyframeRequest?.();
    } catch {
      // the producer's problem; viewers wait for the next natural keyframe
    }
  }
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}
