// Fanout: one stream of access units (a SkyLine's encoder, a LiveSource's camera) handed to any
// set of destinations. It keeps the encoded history for pre-roll, wraps each destination in an
// Outlet (its start keyframe and bounded backlog), rate-limits keyframe requests on the shared
// encoder, and opens, drains and closes destinations as streams begin and end. Destinations
// stay attached across streams: the next stream opens them again.
import type { Logger } from 'pino';
import { aborted } from '../abort.js';
import type { AccessUnit } from '../h264/access-unit.js';
import type { Redactor } from '../log.js';
import { DestinationError, type Destination, type DestinationLink, type DestinationState, type DestinationStats, type VideoInfo } from './destination.js';
import { EncodedHistory, type HistoryLimits } from './history.js';
import { Outlet, type BacklogLimits } from './outlet.js';

export interface AttachOptions {
  /**
   * Start at the keyframe at or before now − preRollMs, from the encoded history (a clip of
   * the seconds before an event). Without it, the destination starts at the next keyframe.
   */
  preRollMs?: number;
}

export interface FanoutOptions {
  history: HistoryLimits;
  backlog: BacklogLimits;
  log: Logger;
  redactor: Redactor;
  /** Asks the encoder for a keyframe; the fanout calls it at most once per keyframeGapMs. */
  requestKeyframe(): void;
  keyframeGapMs: number;
  /** A destination's error, its name in it. */
  error(err: DestinationError): void;
  /** A destination changed state. */
  state(destination: Destination, state: DestinationState, previous: DestinationState): void;
}

interface Entry {
  readonly destination: Destination;
  preRollMs: number | undefined;
  outlet: Outlet | undefined;
  opening: Promise<void> | undefined;
  /** attach() during warmup: settled when start() opened it (or the stream ended first). */
  pending: { since: number | undefined; resolve: () => void; reject: (err: Error) => void } | undefined;
  readonly onError: (err: DestinationError) => void;
  readonly onState: (s: DestinationState, p: DestinationState) => void;
}

export class Fanout {
  readonly history: EncodedHistory;
  private readonly entries = new Map<Destination, Entry>();
  /** Between begin() and end(): a stream is on its way (its video may not be known yet). */
  private running = false;
  private video: VideoInfo | undefined;
  private lastKeyframeRequest = -Infinity;
  private keyframePending: NodeJS.Timeout | undefined;

  constructor(private readonly o: FanoutOptions) {
    this.history = new EncodedHistory(o.history);
  }

  get destinations(): Destination[] {
    return [...this.entries.keys()];
  }

  has(destination: Destination): boolean {
    return this.entries.has(destination);
  }

  /** Whether any destination is watched live (RTSP, web, relays, KVS), not only files. */
  get live(): boolean {
    for (const d of this.entries.keys()) if (d.live) return true;
    return false;
  }

  /**
   * Adds a destination. While a stream runs, opens it and resolves once it takes video (during
   * warmup: once the stream's size is known); otherwise resolves at once and the next stream
   * opens it. Rejects when it cannot open; it is then not attached.
   */
  async attach(destination: Destination, options: AttachOptions = {}): Promise<void> {
    if (this.entries.has(destination)) throw new Error(`${destination.name} is already attached`);
    const preRollMs = options.preRollMs;
    if (preRollMs !== undefined && !(Number.isFinite(preRollMs) && preRollMs >= 0)) {
      throw new RangeError(`preRollMs must be a number of milliseconds >= 0, got ${String(preRollMs)}`);
    }
    const entry: Entry = {
      destination,
      preRollMs,
      outlet: undefined,
      opening: undefined,
      pending: undefined,
      onError: (err) => this.o.error(err),
      onState: (s, p) => this.o.state(destination, s, p),
    };
    destination.on('error', entry.onError);
    destination.on('state', entry.onState);
    this.entries.set(destination, entry);
    if (!this.running) return;
    // Pre-roll is counted from the moment of the call, not from when the destination is ready.
    const since = preRollMs === undefined ? undefined : Date.now() - preRollMs;
    try {
      if (this.video) await this.open(entry, this.video, since);
      else await new Promise<void>((resolve, reject) => (entry.pending = { since, resolve, reject }));
    } catch (err) {
      this.forget(entry);
      throw err;
    }
  }

  /**
   * Removes a destination; resolves once it delivered or finalized what it took (a clip's file
   * is complete), or when `signal` aborts.
   */
  async detach(destination: Destination, signal: AbortSignal): Promise<void> {
    const entry = this.entries.get(destination);
    if (!entry) return;
    this.entries.delete(destination);
    entry.pending?.resolve();
    entry.pending = undefined;
    await this.finish(entry, signal);
    this.forget(entry);
  }

  /** A stream is on its way: attach() now waits for start() instead of resolving at once. */
  begin(): void {
    this.running = true;
    this.history.clear();
  }

  /**
   * The stream's video is known: every attached destination opens. Resolves when all have
   * opened; rejects with the first that could not (the others stay open).
   */
  async start(video: VideoInfo): Promise<void> {
    this.running = true;
    this.video = video;
    const opening = [...this.entries.values()]
      .filter((e) => !e.outlet && !e.opening)
      .map(async (e) => {
        const pending = e.pending;
        e.pending = undefined;
        try {
          await this.open(e, video, pending?.since);
          pending?.resolve();
        } catch (err) {
          // attach() during warmup: its caller gets the failure, not the stream.
          if (!pending) throw err;
          pending.reject(err as Error);
        }
      });
    const failed = (await Promise.allSettled(opening)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Lets every destination that needs it bind its server before the stream's size is known. */
  async prepare(): Promise<void> {
    await Promise.all([...this.entries.keys()].map((d) => d.prepare?.()));
  }

  /** Detaches every destination and releases each for good (servers it created), within `signal`. */
  async dispose(signal: AbortSignal): Promise<void> {
    await Promise.all(
      [...this.entries.keys()].map(async (d) => {
        await this.detach(d, signal);
        await Promise.race([d.dispose().catch((err: Error) => this.o.error(new DestinationError(d.name, err))), aborted(signal)]);
      }),
    );
  }

  /** One access unit, in decode order. */
  write(au: AccessUnit): void {
    this.history.add(au);
    for (const e of this.entries.values()) e.outlet?.offer(au);
  }

  /** The stream is over: each destination delivers what it took and closes; they stay attached. */
  async end(signal: AbortSignal): Promise<void> {
    this.running = false;
    this.video = undefined;
    for (const e of this.entries.values()) {
      e.pending?.resolve();
      e.pending = undefined;
    }
    clearTimeout(this.keyframePending);
    this.keyframePending = undefined;
    await Promise.all([...this.entries.values()].map((e) => this.finish(e, signal)));
    this.history.clear();
  }

  stats(): DestinationStats[] {
    return [...this.entries.values()].map((e) => e.outlet?.stats() ?? e.destination.stats());
  }

  private async open(entry: Entry, video: VideoInfo, since: number | undefined): Promise<void> {
    const d = entry.destination;
    const preRoll = since === undefined ? [] : this.history.since(since);
    const extraMs = preRoll.length > 0 ? Math.max(0, Date.now() - preRoll[0]!.captureMs) : 0;
    const outlet = new Outlet(d, { bytes: this.o.backlog.bytes, ms: this.o.backlog.ms + extraMs }, preRoll, (err) => {
      this.o.error(new DestinationError(d.name, new Error(`write() threw, so it gets no more video: ${err.message}`)));
    });
    entry.outlet = outlet;
    if (preRoll.length === 0) this.requestKeyframe();
    const opening = d.open(video, this.linkFor(d));
    entry.opening = opening;
    try {
      await opening;
    } catch (err) {
      outlet.discard();
      if (entry.outlet === outlet) entry.outlet = undefined;
      const e = err instanceof Error ? err : new Error(String(err));
      throw this.o.redactor.scrubError(e instanceof DestinationError ? e : new DestinationError(d.name, e));
    } finally {
      if (entry.opening === opening) entry.opening = undefined;
    }
    if (entry.outlet === outlet) outlet.start();
  }

  /** Delivers what the destination's outlet holds, then closes it, within `signal`. */
  private async finish(entry: Entry, signal: AbortSignal): Promise<void> {
    const outlet = entry.outlet;
    entry.outlet = undefined;
    if (!outlet) return;
    // Still opening (a relay that holds the publish): it took no video, so there is nothing to
    // deliver; closing it now ends the open instead of waiting for it.
    const opening = entry.opening;
    opening?.catch(() => undefined);
    try {
      if (!opening) await outlet.drain(signal);
      outlet.discard();
      await Promise.race([entry.destination.close(signal), aborted(signal)]);
    } catch (err) {
      this.o.error(err instanceof DestinationError ? err : new DestinationError(entry.destination.name, err as Error));
    }
  }

  private forget(entry: Entry): void {
    entry.destination.off('error', entry.onError);
    entry.destination.off('state', entry.onState);
    if (this.entries.get(entry.destination) === entry) this.entries.delete(entry.destination);
  }

  private linkFor(d: Destination): DestinationLink {
    return {
      requestKeyframe: () => this.requestKeyframe(),
      log: this.o.log.child({ destination: d.name }),
      addSecret: (s) => this.o.redactor.add(s),
    };
  }

  /** At most one keyframe request per keyframeGapMs, whoever asks: a late one is sent when the gap is over. */
  private requestKeyframe(): void {
    if (this.keyframePending || !this.running) return;
    const wait = this.lastKeyframeRequest + this.o.keyframeGapMs - Date.now();
    const send = () => {
      this.keyframePending = undefined;
      if (!this.running) return;
      this.lastKeyframeRequest = Date.now();
      this.o.requestKeyframe();
    };
    if (wait <= 0) return send();
    this.keyframePending = setTimeout(send, wait);
    this.keyframePending.unref();
  }
}
