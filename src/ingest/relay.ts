/**
 * LiveSource's relay: the camera's own H.264 access units, re-served to any number of
 * destinations (a file, an RTSP mount, RTMP, KVS) with no decoder and no encoder. Each unit the
 * ring keeps is converted once and handed to every destination; a destination that joins starts
 * at a keyframe of the ring (pre-roll), with SPS/PPS in front.
 */
import type { Logger } from 'pino';
import type { Destination, DestinationLink, DestinationStats } from '../destinations/destination.js';
import { KeyframeGate } from '../destinations/status.js';
import type { AccessUnit } from '../h264/access-unit.js';
import type { Redactor } from '../log.js';
import { SourceError } from './errors.js';
import type { EncodedRing, EncodedUnit } from './ring-buffer.js';
import { H264_CAPS, RelayUnits, relayVideoInfo } from './relay-units.js';
import type { StreamCaps } from './units.js';

export interface AttachOptions {
  /**
   * Video from before the attach to send first, ms: the destination starts at the keyframe at or
   * before (newest capture time - preRollMs). Default 0: the newest keyframe, so it starts at once.
   */
  preRollMs?: number;
}

/** What the relay needs from its LiveSource. */
export interface RelayHost {
  readonly ring: EncodedRing;
  caps(): StreamCaps | undefined;
  readonly log: Logger;
  readonly redactor: Redactor;
}

interface Target {
  dest: Destination;
  gate: KeyframeGate;
  /** Units handed over once open() resolved and the pre-roll went out. */
  live: boolean;
  dropped: number;
  onError: (err: Error) => void;
}

/** How long close() gives a destination to finish when the source closes without a signal. */
const CLOSE_MS = 10_000;

export class Relay {
  private readonly units = new RelayUnits();
  private readonly targets = new Map<Destination, Target>();
  private keyframeAsked = false;
  private waiters: Array<() => void> = [];

  constructor(private readonly host: RelayHost) {}

  /**
   * Opens `dest` for this camera's video and sends it from a keyframe of the buffer on. Waits for
   * the stream's first keyframe when none is buffered yet. Rejects for a source that is not
   * H.264 (MJPEG: decode its frames and stream them with a SkyLine instead) and when the
   * destination's open() rejects.
   */
  async attach(dest: Destination, opts: AttachOptions = {}): Promise<void> {
    const preRollMs = opts.preRollMs ?? 0;
    if (!(preRollMs >= 0)) throw new RangeError(`preRollMs must be a non-negative number of ms, got ${preRollMs}`);
    if (this.targets.has(dest)) throw new Error(`${dest.name} is already attached`);
    this.checkCodec();
    const target: Target = {
      dest,
      gate: new KeyframeGate(),
      live: false,
      dropped: 0,
      onError: (err) => this.host.log.warn({ destination: dest.name }, err.message),
    };
    this.targets.set(dest, target);
    // Errors are the destination's own (it retries, or it is failed): logged, never thrown at the process.
    dest.on('error', target.onError);
    try {
      if (!this.host.ring.lastKeyframe()) await new Promise<void>((resolve) => this.waiters.push(resolve));
      if (!this.targets.has(dest)) return;
      this.checkCodec();
      const key = this.host.ring.lastKeyframe()!;
      // Sets the parameter sets and size from the newest keyframe when nothing was relayed yet.
      this.units.convert(key);
      await dest.open(relayVideoInfo(this.host.caps(), this.units, this.host.ring), this.link(dest));
    } catch (err) {
      this.forget(target);
      throw err;
    }
    if (!this.targets.has(dest)) return;
    this.preRoll(target, preRollMs);
    target.live = true;
  }

  /** Stops sending to `dest` and closes it (it finishes what it took, within `signal`). */
  async detach(dest: Destination, signal: AbortSignal = AbortSignal.timeout(CLOSE_MS)): Promise<void> {
    const t = this.targets.get(dest);
    if (!t) return;
    this.forget(t);
    await dest.close(signal);
  }

  /** A unit the ring kept (LiveSource.onUnit). */
  onUnit(u: EncodedUnit): void {
    for (const w of this.waiters.splice(0)) w();
    if (this.targets.size === 0) {
      // Nobody listens: only the parameter sets are kept, for whoever joins.
      if (u.keyframe) this.units.convert(u);
      return;
    }
    const au = this.units.convert(u);
    if (!au) return;
    for (const t of this.targets.values()) if (t.live) this.write(t, au);
  }

  stats(): DestinationStats[] {
    return [...this.targets.values()].map((t) => {
      const s = t.dest.stats();
      return { ...s, unitsDropped: s.unitsDropped + t.dropped };
    });
  }

  get size(): number {
    return this.targets.size;
  }

  /** Detaches every destination (the source closes). */
  async close(signal: AbortSignal = AbortSignal.timeout(CLOSE_MS)): Promise<void> {
    for (const w of this.waiters.splice(0)) w();
    await Promise.all([...this.targets.keys()].map((d) => this.detach(d, signal).catch(() => undefined)));
  }

  private checkCodec(): void {
    const codec = this.host.caps()?.codec;
    if (codec !== undefined && codec !== H264_CAPS) {
      const what = codec === 'image/jpeg' ? 'MJPEG (image/jpeg)' : codec;
      throw new SourceError('UNSUPPORTED_CODEC', `only H.264 sources can be relayed without re-encoding; this one is ${what}: read its frames and stream them with a SkyLine instead`);
    }
  }

  private preRoll(t: Target, preRollMs: number): void {
    const ring = this.host.ring;
    const newest = ring.newest;
    if (!newest) return;
    const key = ring.keyframeAtOrBefore(newest.timestampMs - preRollMs) ?? ring.oldest!;
    for (const u of ring.range(key.seq)) {
      const au = this.units.convert(u, false);
      if (au) this.write(t, au);
    }
  }

  private write(t: Target, au: AccessUnit): void {
    if (!t.gate.pass(au.keyframe)) {
      t.dropped++;
      return;
    }
    // A destination that cannot take more now loses units up to the next keyframe, so what it
    // gets stays decodable.
    if (!t.dest.write(au)) {
      t.dropped++;
      t.gate.reset();
    }
  }

  private link(dest: Destination): DestinationLink {
    const log = this.host.log.child({ destination: dest.name });
    return {
      log,
      addSecret: (s) => this.host.redactor.add(s),
      requestKeyframe: () => {
        // The camera sets its own keyframe interval; nothing reaches it from here.
        if (this.keyframeAsked) return;
        this.keyframeAsked = true;
        log.debug('a destination asked for a keyframe; a relayed camera cannot be asked (it keeps its own keyframe interval)');
      },
    };
  }

  private forget(t: Target): void {
    this.targets.delete(t.dest);
    t.dest.off('error', t.onError);
  }
}
