// A typed, safer face over the binding's Pipeline: parse errors become Errors, bus
// messages become typed events, appsrc pushes reuse one PTS buffer, and the number of
// libuv threadpool threads held by bus watches is counted so callers can warn.
import { loadBinding, type NativeBusMessage, type NativeElement, type NativePipeline } from './binding.js';

export type BusMessage = NativeBusMessage;

export class GstError extends Error {
  constructor(
    message: string,
    /** Name of the element that posted the error, e.g. "rtmp2sink0". */
    readonly element: string,
    /** GStreamer's debug detail (may be long). */
    readonly debug?: string,
  ) {
    super(message);
    this.name = 'GstError';
  }
}

let busWatches = 0;
/** Bus watches currently holding a libuv threadpool thread (one per playing pipeline). */
export function activeBusWatches(): number {
  return busWatches;
}

// Node joins the libuv threadpool when the process exits, and a bus watch blocks its thread
// in gst_bus_timed_pop() until a message arrives: process.exit() while a pipeline plays would
// hang for ever. Stopping the watched pipelines at exit posts the messages that free them.
const watched = new Set<Pipeline>();
let exitHookInstalled = false;
function stopWatchedOnExit(pipeline: Pipeline): void {
  watched.add(pipeline);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const p of watched) p.stop();
  });
}

export class AppSrc {
  private readonly ptsBuf = Buffer.alloc(8);
  constructor(private readonly el: NativeElement) {}

  /** Queue one buffer; the binding copies the bytes, so `data` may be reused at once. */
  push(data: Uint8Array, ptsNs: number): void {
    // PTS as a big-endian uint64 in nanoseconds, written without BigInt allocation.
    const hi = Math.floor(ptsNs / 0x1_0000_0000);
    this.ptsBuf.writeUInt32BE(hi, 0);
    this.ptsBuf.writeUInt32BE(ptsNs - hi * 0x1_0000_0000, 4);
    this.el.push!(data as Buffer, this.ptsBuf);
  }

  /** Buffers queued inside appsrc, not yet taken by the streaming thread. */
  level(): number {
    return Number(this.el['current-level-buffers']);
  }

  /** Bytes queued inside appsrc. */
  levelBytes(): number {
    return Number(this.el['current-level-bytes']);
  }

  set caps(caps: string) {
    this.el.caps = caps;
  }
}

export interface PipelineHandlers {
  onError(err: GstError): void;
  onEos(): void;
  /**
   * The pipeline reached PAUSED with its sinks started (files opened, connections made).
   * PLAYING itself needs a first buffer to preroll the sinks, so it is not waited for.
   */
  onStarted(): void;
}

export class Pipeline {
  private readonly native: NativePipeline;
  private handlers: PipelineHandlers | undefined;
  private watching = false;
  private playing = false;
  private readonly elements = new Map<string, NativeElement>();

  /** Parses a gst-launch description; throws an Error naming the problem (e.g. a missing element). */
  constructor(readonly description: string) {
    const { Pipeline: NativeCtor } = loadBinding();
    try {
      this.native = new NativeCtor(description);
    } catch (err) {
      throw new Error(`GStreamer could not build the pipeline: ${(err as Error).message}`);
    }
  }

  element(name: string): NativeElement {
    // Cached: each findChild() makes a new wrapper whose per-property accessors and methods
    // are V8 templates that are never collected (about 40 KB of heap per call), and the
    // pipeline is reused across sessions, so a restart would leak that much every time.
    let el = this.elements.get(name);
    if (!el) {
      el = this.native.findChild(name);
      if (!el) throw new Error(`pipeline has no element named "${name}"`);
      this.elements.set(name, el);
    }
    return el;
  }

  appsrc(name: string): AppSrc {
    return new AppSrc(this.element(name));
  }

  /** Sets a property after parsing, so values such as secret URLs never appear in a launch string. */
  set(elementName: string, property: string, value: string | number | boolean): void {
    this.element(elementName)[property] = value;
  }

  /**
   * Starts the pipeline. With handlers, the bus is watched until stop(): that holds one
   * libuv threadpool thread (the binding blocks a worker on the bus), so pipelines whose
   * data path ends in Node pass none and rely on their own signals instead.
   */
  play(handlers?: PipelineHandlers): void {
    this.handlers = handlers;
    this.playing = true;
    if (handlers && !this.watching) {
      this.watching = true;
      busWatches++;
      stopWatchedOnExit(this);
      // The binding's poll loop ends only when it pops a message and finds the pipeline in NULL.
      // With the bus flushed at NULL (the default), a loop woken by the first state change of a
      // stop re-blocks on an empty bus for ever, and node cannot exit (it joins the threadpool).
      // Unflushed, the stop's last state change (READY -> NULL) always reaches it. What a loop
      // leaves on the bus is the tail of that stop (state changes to READY and NULL), which
      // the next run's handlers ignore: errors and EOS come before it and are taken.
      this.native['auto-flush-bus'] = false;
      this.native.pollBus((msg) => this.onMessage(msg));
    }
    this.native.play();
  }

  /** Pauses the pipeline (data stops flowing; sinks keep what they opened). */
  pause(): void {
    this.native.pause();
  }

  /** Sends EOS from the sources; queued data ahead of it is still processed. */
  sendEos(): void {
    this.native.sendEOS();
  }

  /** Asks the encoder upstream of `elementName` for a keyframe. */
  forceKeyUnit(elementName: string): void {
    this.native.forceKeyUnit(elementName, 1);
  }

  /** To NULL: releases devices, sockets and files; the pipeline can play() again. */
  stop(): void {
    this.playing = false;
    this.handlers = undefined;
    this.native.stop();
    if (this.watching) {
      // The binding's poll loop ends with the state-change messages this stop posts.
      this.watching = false;
      busWatches--;
      watched.delete(this);
    }
  }

  private onMessage(msg: BusMessage): void {
    const h = this.handlers;
    if (!h || !this.playing) return;
    switch (msg.type) {
      case 'error':
        h.onError(new GstError(String(msg.message ?? 'unknown GStreamer error'), String(msg._src_element_name), msg.debug as string | undefined));
        break;
      case 'eos':
        h.onEos();
        break;
      case 'state-changed':
        if (/^pipeline\d+$/.test(msg._src_element_name) && (msg['new-state'] === 'GST_STATE_PAUSED' || msg['new-state'] === 'GST_STATE_PLAYING')) h.onStarted();
        break;
    }
  }
}
