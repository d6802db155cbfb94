// Delivery through the tap: the pipeline ends in an RTP payloader and a TCP client that connects
// back to a listener of ours, and the encoded video comes into Node as access units.
//
// The tap belongs to this SkyLine: each attempt listens on a fresh loopback port that takes one
// connection and closes at once, and the payloader's SSRC is a random secret the receiver checks,
// so another local process can neither take the encoder's output over nor feed its own. A
// watchdog notices a tap that goes quiet while frames wait to be encoded.
import { randomInt } from 'node:crypto';
import type { Pipeline } from '../gst/pipeline.js';
import type { DepacketizedUnit } from '../rtp/depacketizer.js';
import { RtpStreamReceiver } from '../rtp/stream-receiver.js';
import { abortError } from '../abort.js';
import type { AccessUnit } from '../h264/access-unit.js';

/** What the tap asks of the SkyLine that owns it. */
export interface TapHost {
  /** An encoded unit came back, PTS on the session's clock. */
  unit(au: AccessUnit): void;
  /** A delivering run failed (always worth a reconnect). */
  failed(err: Error): void;
  /** Frames wait to go into the encoder (queue or appsrc): a quiet tap then counts as stalled. */
  framesWaiting(): boolean;
  /**
   * The frame a unit came back for: `out` holds the PTS read from RTP (90 kHz, rounded); the host
   * sets the frame's exact PTS and its put() capture time.
   */
  frameOf(out: { ptsNs: number; captureMs: number }): void;
}

/** Element names in the tail. */
const PAYLOADER = 'tappay';
const CLIENT = 'tapclient';

/**
 * RTP over TCP back to our receiver: timestamps survive (90 kHz from PTS 0), and Node sockets
 * hold no libuv threadpool thread (the binding's appsink would). Port and SSRC are set as
 * properties per attempt, so the description, and the native pipeline, stay the same.
 */
export const TAP_TAIL =
  `rtph264pay name=${PAYLOADER} pt=96 mtu=60000 config-interval=0 aggregate-mode=none timestamp-offset=0 ! rtpstreampay ! ` +
  `tcpclientsink name=${CLIENT} host=127.0.0.1 sync=false`;

export interface TapOptions {
  /** No unit back for this long while frames wait for the encoder: the tap is stalled. */
  stallMs: number;
}

/** Frames pushed without a unit coming back before the tap counts as stalled (above any encoder's delay). */
const STALL_FRAMES = 8;

export class TapDelivery {
  private receiver: RtpStreamReceiver | undefined;
  private delivering = false;
  private eos: (() => void) | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  // This run
  private offset = 0;
  private runPushed = 0;
  private lastPushedPts = -1;
  private lastUnitPts = -1;
  private runUnits = 0;
  /** Filled in per unit by the host: the frame's exact PTS and capture time. */
  private readonly frame = { ptsNs: 0, captureMs: 0 };
  private lastUnitAt = 0;
  private pushedSinceUnit = 0;
  // This session
  private units = 0;
  private byteCount = 0;

  constructor(private readonly host: TapHost, private readonly options: TapOptions) {}

  /**
   * One attempt: plays the pipeline and resolves once its output connected back. Rejects when
   * `signal` aborts (stop, close, timeout).
   */
  async attempt(pipeline: Pipeline, signal: AbortSignal): Promise<void> {
    this.release();
    this.runPushed = 0;
    this.lastPushedPts = -1;
    this.lastUnitPts = -1;
    this.runUnits = 0;
    this.pushedSinceUnit = 0;
    // A random SSRC the binding can set exactly (it passes numbers through a float), read back as set.
    pipeline.set(PAYLOADER, 'ssrc', randomInt(1 << 23, 1 << 24) * 2 ** randomInt(0, 9));
    const ssrc = Number(pipeline.element(PAYLOADER).ssrc);
    const receiver = new RtpStreamReceiver({ single: true, ssrc });
    this.receiver = receiver;
    const port = await receiver.listen();
    if (signal.aborted) throw abortError(signal);
    pipeline.set(CLIENT, 'port', port);
    receiver.on('unit', (u) => this.onUnit(receiver, u));
    receiver.on('disconnect', () => this.lost(receiver, new Error('the encoder pipeline closed its output unexpectedly')));
    receiver.on('foreign', () => this.lost(receiver, new Error('a connection that was not our encoder reached the tap; it was closed')));
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        receiver.off('connect', onConnect);
        reject(abortError(signal));
      };
      const onConnect = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      receiver.once('connect', onConnect);
      signal.addEventListener('abort', onAbort, { once: true });
      // No bus watch: a tap pipeline holds no threadpool thread; its socket and the watchdog tell us how it does.
      pipeline.play();
    });
    this.delivering = true;
    this.lastUnitAt = Date.now();
    this.watchdog = setInterval(() => this.check(), Math.max(100, Math.min(1000, this.options.stallMs / 4)));
    this.watchdog.unref();
  }

  /** Whether a failed attempt is worth another (`tries`: attempts made, this one included). */
  retryable(_err: Error, tries: number): boolean {
    // A first attempt that fails is a broken encoder or pipeline: the start fails. Later ones
    // follow a tap that worked and was lost.
    return tries > 1;
  }

  /** A frame went into appsrc: `ptsNs` on the session clock, `runOffsetNs` the run's PTS 0 on it. */
  pushed(ptsNs: number, runOffsetNs: number): void {
    this.offset = runOffsetNs;
    this.runPushed++;
    this.lastPushedPts = ptsNs;
    this.pushedSinceUnit++;
  }

  /** Sends EOS; resolves once every unit pushed came back, or when `signal` aborts. */
  finish(pipeline: Pipeline, signal: AbortSignal): Promise<void> {
    if (this.runPushed === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        this.eos = undefined;
        signal.removeEventListener('abort', done);
        resolve();
      };
      if (signal.aborted || this.allBack()) return done();
      signal.addEventListener('abort', done, { once: true });
      this.eos = done;
      // The encoder hands out what it still holds at EOS.
      pipeline.sendEos();
    });
  }

  /** Stops the pipeline and releases what the attempt took (socket, watchdog). */
  stop(pipeline: Pipeline): void {
    this.delivering = false;
    this.eos?.();
    pipeline.stop();
    this.release();
  }

  /** Units encoded this session. */
  encoded(): number {
    return this.units;
  }

  /** Encoded bytes received this session. */
  bytes(): number {
    return this.byteCount;
  }

  private release(): void {
    clearInterval(this.watchdog);
    this.watchdog = undefined;
    const r = this.receiver;
    this.receiver = undefined;
    if (r) {
      r.removeAllListeners();
      void r.close();
    }
  }

  private onUnit(receiver: RtpStreamReceiver, u: DepacketizedUnit): void {
    if (receiver !== this.receiver) return;
    const frame = this.frame;
    frame.ptsNs = Math.round((u.timestamp * 1e9) / 90000) + this.offset;
    frame.captureMs = Number.NaN;
    this.host.frameOf(frame);
    const ptsNs = frame.ptsNs;
    let bytes = 0;
    for (const n of u.nalus) bytes += n.length;
    this.units++;
    this.byteCount += bytes;
    this.lastUnitPts = ptsNs;
    this.runUnits++;
    this.lastUnitAt = Date.now();
    this.pushedSinceUnit = 0;
    this.host.unit({ nalus: u.nalus, ptsNs, captureMs: frame.captureMs, keyframe: u.keyframe });
    if (this.eos && this.allBack()) this.eos();
  }

  /** 90 kHz RTP rounding: the last unit is within one tick of the last pushed PTS. */
  private allBack(): boolean {
    // A unit must have come back: with one frame at PTS 0, -1 is already "within a tick" of it.
    return this.runPushed > 0 && this.runUnits > 0 && this.lastUnitPts >= this.lastPushedPts - 20_000;
  }

  private check(): void {
    if (!this.delivering || this.eos) return;
    const quiet = Date.now() - this.lastUnitAt;
    if (quiet < this.options.stallMs) return;
    if (this.pushedSinceUnit >= STALL_FRAMES || (this.pushedSinceUnit > 0 && this.host.framesWaiting())) {
      this.lost(this.receiver, new Error(`the encoder's output stalled: nothing came back for ${(quiet / 1000).toFixed(1)} s while frames were waiting`));
    }
  }

  private lost(receiver: RtpStreamReceiver | undefined, err: Error): void {
    if (receiver !== this.receiver) return;
    if (this.eos) return this.eos(); // stopping: nothing more will come
    if (!this.delivering) return;
    this.delivering = false;
    clearInterval(this.watchdog);
    this.watchdog = undefined;
    this.host.failed(err);
  }
}
