/**
 * LiveSource's live decoding: one decoder, started on demand, fed from the ring at a cursor, its
 * frames handed to the open iterators (each a bounded FrameChannel) and to latest(). It runs
 * while an iterator is open or latest() was called within decodeIdleMs; past() and screenshot()
 * use decoders of their own (history.ts).
 */
import type { Logger } from 'pino';
import type { SourceConnection } from './connection.js';
import { Decoder, type DecodedFrame, type OutputFormat } from './decoder.js';
import { SourceError } from './errors.js';
import { FrameChannel } from './frame-channel.js';
import { toFrame } from './history.js';
import type { LiveSourceState, SourceFrame } from './live-source-types.js';
import type { EncodedRing, EncodedUnit } from './ring-buffer.js';
import type { StreamCaps } from './units.js';

interface Iterating {
  channel: FrameChannel<SourceFrame>;
  fromSeq: number;
}

const MAX_IN_FLIGHT = 8;
/** A file read fast pauses its reader when the live decoder is this many units behind. */
const FAST_LAG_UNITS = 48;
const LATEST_WAIT_MS = 5000;

export interface DecodingHost {
  readonly ring: EncodedRing;
  caps(): StreamCaps | undefined;
  readonly opts: { format: OutputFormat; width?: number; height?: number; queueFrames: number; decodeIdleMs: number };
  /** A file read fast: iterators lose nothing, the reader waits for them. */
  readonly lossless: boolean;
  readonly connection: SourceConnection;
  readonly log: Logger;
}

export class LiveDecoding {
  private live: Decoder | undefined;
  private liveStarting: Promise<void> | undefined;
  private cursor = 0;
  private readonly inFlight = new Map<number, EncodedUnit>();
  /** The newest frame decoded. */
  newest: SourceFrame | undefined;
  private lastLatestPts = -1;
  private lastAskedAt = 0;
  private latestWaiters: Array<{ seq: number; resolve: () => void }> = [];
  private readonly iterating = new Set<Iterating>();
  /** A finite source ended: what the decoder holds comes out, then the iterators end. */
  ending = false;
  private drained = false;
  /** The reader is paused for the decoder (a file read fast). */
  readerPaused = false;
  readonly counters = { decoded: 0, dropped: 0 };

  constructor(private readonly host: DecodingHost) {}

  private get ring(): EncodedRing {
    return this.host.ring;
  }

  get active(): boolean {
    return this.live?.active ?? false;
  }

  /** Frames dropped for slow iterators (open ones included) and units skipped to catch up. */
  get dropped(): number {
    return this.counters.dropped + [...this.iterating].reduce((n, it) => n + it.channel.dropped, 0);
  }

  /** A new start(): no end pending. */
  reset(): void {
    this.ending = false;
    this.drained = false;
  }

  /** A finite source ended: frames still in the decoder come out first, then the iterators end. */
  finishEnd(): void {
    this.ending = true;
    if (!this.live?.active) this.finishLiveEnd();
    else this.feed();
  }

  /** LiveSource's [Symbol.asyncIterator](): every frame from now on, through a bounded channel. */
  iterator(phase: LiveSourceState): AsyncIterator<SourceFrame> {
    const it: Iterating = {
      channel: new FrameChannel<SourceFrame>(this.host.opts.queueFrames, this.host.lossless, () => this.feed()),
      fromSeq: phase === 'stopped' && this.ring.length === 0 ? 0 : this.ring.endSeq,
    };
    if (phase === 'ended' || phase === 'closed' || phase === 'error') it.channel.end();
    else {
      this.iterating.add(it);
      void this.ensureLive(this.ring.lastKeyframe()?.seq ?? this.ring.endSeq).catch((err: Error) => it.channel.end(err));
    }
    return {
      next: () => it.channel.next(),
      return: async () => {
        if (this.iterating.delete(it)) this.counters.dropped += it.channel.dropped;
        it.channel.end();
        return { value: undefined, done: true };
      },
    };
  }

  /** LiveSource.latest(): the newest frame not yet returned, decoding from the newest keyframe after a quiet spell. */
  async latest(): Promise<SourceFrame | null> {
    this.lastAskedAt = Date.now();
    if (!this.live?.active) {
      const key = this.ring.lastKeyframe();
      if (!key) return null;
      const target = this.ring.newest!.seq;
      // Slice threading: each unit's picture comes out at once (frame threading holds a few back).
      await this.ensureLive(key.seq, 'slice');
      if (!this.newest || this.newest.seq < target) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, LATEST_WAIT_MS);
          const waiter = { seq: target, resolve: done };
          this.latestWaiters.push(waiter);
          function done() {
            clearTimeout(timer);
            resolve();
          }
        });
      }
    }
    const f = this.newest;
    if (!f || f.pts <= this.lastLatestPts) return null;
    this.lastLatestPts = f.pts;
    return f;
  }

  /** The end of a finite source reached the iterators: decoder stopped, iterators ended. */
  finishLiveEnd(): void {
    this.stopLive();
    this.endIterators();
  }
  decoderOptions(threading: 'auto' | 'slice' = 'auto') {
    return { codec: this.host.caps()!.codec, format: this.host.opts.format, width: this.host.opts.width, height: this.host.opts.height, threading };
  }

  private ensureLive(fromSeq: number, threading: 'auto' | 'slice' = 'auto'): Promise<void> {
    if (this.live?.active) return Promise.resolve();
    if (this.liveStarting) return this.liveStarting;
    if (!this.host.caps()) return Promise.resolve(); // started by feed() once the stream is known
    const d = new Decoder(this.decoderOptions(threading));
    this.live = d;
    this.cursor = Math.max(fromSeq, this.ring.oldest?.seq ?? 0);
    this.inFlight.clear();
    d.on('frame', (f) => this.onLiveFrame(d, f));
    d.on('failed', (reason) => {
      this.host.log.warn({ reason }, 'live decoder stopped');
      if (this.live === d) this.live = undefined;
      if (this.iterating.size > 0 && !this.ending) void this.ensureLive(this.ring.lastKeyframe()?.seq ?? this.ring.endSeq).catch((err: Error) => this.endIterators(err));
    });
    this.liveStarting = d.start().then(
      () => {
        this.liveStarting = undefined;
        this.feed();
      },
      (err: Error) => {
        this.liveStarting = undefined;
        if (this.live === d) this.live = undefined;
        throw new SourceError('ERROR', `could not start the decoder: ${err.message}`);
      },
    );
    return this.liveStarting;
  }

  stopLive(): void {
    this.live?.stop();
    this.live = undefined;
    this.inFlight.clear();
    for (const w of this.latestWaiters.splice(0)) w.resolve();
  }

  private wantLive(): boolean {
    return this.iterating.size > 0 || Date.now() - this.lastAskedAt < this.host.opts.decodeIdleMs;
  }

  /** Pushes units from the cursor into the live decoder, a few at a time. */
  feed(): void {
    const d = this.live;
    if (!d) {
      if (this.host.caps() && this.iterating.size > 0 && !this.liveStarting) void this.ensureLive(this.iterating.size > 0 ? this.minIteratorSeq() : this.ring.endSeq).catch(() => undefined);
      return;
    }
    if (!d.active || this.liveStarting) return;
    while (this.cursor < this.ring.endSeq && d.inFlight < MAX_IN_FLIGHT) {
      if (this.host.lossless && [...this.iterating].some((it) => it.channel.full)) break;
      const u = this.ring.get(this.cursor);
      if (!u) {
        const oldest = this.ring.oldest;
        if (oldest && this.cursor < oldest.seq) {
          // Evicted before the decoder got to it: catch up at the newest keyframe.
          const key = this.ring.lastKeyframe()!;
          this.counters.dropped += key.seq - this.cursor;
          this.cursor = key.seq;
          continue;
        }
        this.cursor++;
        continue;
      }
      this.inFlight.set(u.ptsNs, u);
      d.push(u.data, u.ptsNs);
      this.cursor++;
    }
    if (this.host.lossless && this.host.connection.connected) {
      const behind = this.ring.endSeq - this.cursor > FAST_LAG_UNITS;
      if (behind && !this.readerPaused) {
        this.host.connection.pause();
        this.readerPaused = true;
      } else if (!behind && this.readerPaused) {
        this.host.connection.resume();
        this.readerPaused = false;
      }
    }
    if (this.ending && this.cursor >= this.ring.endSeq && !this.drained) {
      this.drained = true;
      d.drain();
      if (d.inFlight === 0) this.finishLiveEnd();
      else this.armDrainTimer();
    }
  }

  /** A unit cut short at the end of a file may never come out of the decoder: end anyway once output stops. */
  private armDrainTimer(): void {
    let seen = -1;
    let quiet = 0;
    const t = setInterval(() => {
      const d = this.live;
      if (!d || !this.ending) {
        clearInterval(t);
        return;
      }
      if (d.received === seen && ++quiet >= 5) {
        clearInterval(t);
        this.host.log.debug({ pending: d.inFlight }, 'end of stream: units the decoder did not return');
        this.finishLiveEnd();
        return;
      }
      if (d.received !== seen) quiet = 0;
      seen = d.received;
    }, 1000);
    t.unref();
  }

  private minIteratorSeq(): number {
    let min = this.ring.endSeq;
    for (const it of this.iterating) min = Math.min(min, it.fromSeq);
    // The decoder must start at a keyframe at or before the first unit anyone wants.
    const first = this.ring.get(min) ?? this.ring.oldest;
    if (!first) return this.ring.endSeq;
    const key = this.ring.keyframeAtOrBefore(first.timestampMs);
    return key && key.seq <= first.seq ? key.seq : first.seq;
  }

  private onLiveFrame(d: Decoder, f: DecodedFrame): void {
    if (d !== this.live) return;
    const u = this.inFlight.get(f.ptsNs);
    // Frames leave in presentation order: units before this one that are still listed were skipped by the decoder.
    for (const pts of this.inFlight.keys()) if (pts <= f.ptsNs) this.inFlight.delete(pts);
    if (u) {
      this.counters.decoded++;
      const frame = toFrame(f, u);
      if (!this.newest || frame.pts > this.newest.pts) this.newest = frame;
      for (const it of this.iterating) if (frame.seq >= it.fromSeq) it.channel.push(frame);
      const ready = this.latestWaiters.filter((w) => frame.seq >= w.seq);
      if (ready.length > 0) {
        this.latestWaiters = this.latestWaiters.filter((w) => frame.seq < w.seq);
        for (const w of ready) w.resolve();
      }
    }
    if (this.ending && this.drained && d.inFlight <= 0) {
      this.finishLiveEnd();
      return;
    }
    this.feed();
  }

  checkIdle(): void {
    // (While a file's end is drained, the iterators waiting for it keep wantLive() true.)
    if (this.live?.active && !this.wantLive()) {
      this.host.log.debug('live decoder idle: stopped');
      this.stopLive();
    }
  }

  endIterators(err?: Error): void {
    for (const it of this.iterating) {
      this.counters.dropped += it.channel.dropped;
      it.channel.end(err);
    }
    this.iterating.clear();
  }
}
