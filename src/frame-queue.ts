// The bounded queue between put() and the encoder. Slots own their buffers and are
// recycled, so a steady stream allocates nothing; when full, the oldest frame goes.
// Packed RGB slots live inside the converter's WebAssembly memory, so the drain converts a
// frame where put() copied it: one copy of the frame's bytes fewer than a slot on the heap.
// A WebAssembly memory never shrinks, so the converter holds only a small steady pool; the
// slots a burst needs beyond it are heap buffers, which the drain converts through the
// converter's staging area (one copy more, only while the burst lasts). They are resizable
// ArrayBuffers, resized to 0 when the ring lets them go: V8 gives their pages back at once,
// where a dropped buffer (or a second WebAssembly memory, as before) waited for a GC that could
// come 20 s late or not before the next burst. The ring keeps as many slots as the queue held
// over the last two windows of drains, so RSS returns after a burst.
import { RgbToI420 } from './convert/rgb-to-i420.js';
import type { Layout } from './frame.js';

export interface Slot {
  data: Buffer;
  layout: Layout;
  ptsNs: number;
  captureMs: number;
  /** The frame already in I420 (putAsync() converts it while it is in cache), else undefined. */
  i420?: Uint8Array | undefined;
}

/** Slots in the converter's own memory: enough for a queue that keeps up (it holds 1-3). */
export const POOL_SLOTS = 4;
/** Drains per window of the high-water mark; the ring keeps the larger of the last two. */
export const TRIM_WINDOW = 64;

/** ES2024's resizable ArrayBuffer (in Node 20 and later; not in this project's ES2022 lib types). */
type Resizable = ArrayBuffer & { readonly resizable: boolean; resize(n: number): void };
const ResizableArrayBuffer = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => Resizable;

/** A slot beyond the pool: a buffer of its own whose pages giveBack() can return at once. */
function burstBuffer(bytes: number): Buffer {
  return Buffer.from(new ResizableArrayBuffer(bytes, { maxByteLength: bytes }), 0, bytes);
}

/** WebAssembly memories come in 64 KiB pages. */
const PAGE = 65536;

/** Frame slots inside one converter's memory, lent to the ring and given back to `spare`. */
interface SlotPool {
  i420: RgbToI420;
  spare: Buffer[];
}

function poolOf(i420: RgbToI420): SlotPool {
  const spare: Buffer[] = [];
  for (let i = i420.slots - 1; i >= 0; i--) spare.push(i420.slot(i)); // slot 0 is lent first
  return { i420, spare };
}

export class FrameQueue {
  private slots: Slot[] = [];
  private head = 0;
  private count = 0;
  /** Most frames held before the oldest is dropped (can be raised for a warmup backlog). */
  limit: number;
  /** The converter of the last layout asked for (undefined i420: videoconvert converts). */
  private conv: { layout: Layout; pool: SlotPool | undefined } | undefined;
  private peak = 0;
  private lastPeak = 0;
  private drains = 0;

  constructor(limit: number) {
    this.limit = Math.max(1, limit);
  }

  /**
   * Frames (at least 2) a queue of `budgetBytes` may hold when a frame takes `frameBytes`:
   * the converter's staging and I420 output areas (a frame and a half) and its memory's
   * rounding to whole pages come out of the budget too, so the queue never holds more.
   */
  static limitFor(budgetBytes: number, frameBytes: number): number {
    const converter = Math.ceil(frameBytes * 1.5) + PAGE + 256;
    return Math.max(2, Math.floor((budgetBytes - converter) / frameBytes));
  }

  get length(): number {
    return this.count;
  }

  /** Bytes of frame memory the queue holds: its converters' memories and its heap slots. */
  get retainedBytes(): number {
    let n = this.conv?.pool?.i420.memoryBytes ?? 0;
    for (const s of this.slots) if (!this.owned(s.data)) n += s.data.byteLength;
    return n;
  }

  /**
   * The slot to fill next, with a buffer of at least `bytes`. When the queue is full the
   * oldest frame is overwritten: `evicted` tells the caller to count a drop.
   */
  reserve(bytes: number, layout?: Layout): { slot: Slot; evicted: boolean } {
    let evicted = false;
    if (this.count >= this.limit) {
      this.head = (this.head + 1) % this.slots.length;
      this.count--;
      evicted = true;
    }
    if (this.count === this.slots.length) this.grow();
    const i = (this.head + this.count) % this.slots.length;
    let slot = this.slots[i]!;
    const conv = layout && bytes === layout.srcSize ? this.converterFor(layout) : undefined;
    if (conv) {
      const pool = this.conv!.pool!;
      // A heap slot goes back as soon as the pool has one free, so the burst can end; until
      // then it is reused.
      const heapSlot = slot.data.buffer.byteLength === bytes && slot.data.byteLength === bytes;
      if (!conv.owns(slot.data) && (pool.spare.length > 0 || !heapSlot)) {
        const data = pool.spare.pop() ?? burstBuffer(bytes);
        this.giveBack(slot.data);
        slot = { ...slot, data };
        this.slots[i] = slot;
      }
    } else if (slot.data.length !== bytes) {
      // allocUnsafeSlow: a buffer of its own, not a slice of Node's shared pool.
      this.giveBack(slot.data);
      slot = { ...slot, data: Buffer.allocUnsafeSlow(bytes) };
      this.slots[i] = slot;
    }
    return { slot, evicted };
  }

  /**
   * The WebAssembly converter to I420 for frames of `layout` (undefined: the pipeline's
   * videoconvert does it), with the steady pool of slots in its memory.
   */
  converterFor(layout: Layout): RgbToI420 | undefined {
    const c = this.conv;
    // A raised limit may need a larger pool; slots move over as they are reused.
    if (c?.layout === layout && (c.pool === undefined || c.pool.i420.slots >= Math.min(this.limit, POOL_SLOTS))) return c.pool?.i420;
    const i420 = RgbToI420.for(layout, undefined, Math.min(this.limit, POOL_SLOTS));
    this.conv = { layout, pool: i420 && poolOf(i420) }; // queued frames still convert, copied in
    return i420;
  }

  /** The converter to convert a queued slot with (it reads its own slots in place, copies others in). */
  converterOf(slot: Slot): RgbToI420 | undefined {
    return this.converterFor(slot.layout);
  }

  /** Makes the last reserved slot part of the queue. */
  commit(): void {
    if (++this.count > this.peak) this.peak = this.count;
  }

  /** Adds a slot whose buffer the caller already filled (warmup frames). */
  adopt(entry: Slot): void {
    if (this.count === this.slots.length) this.grow();
    const i = (this.head + this.count) % this.slots.length;
    this.giveBack(this.slots[i]!.data);
    this.slots[i] = entry;
    this.commit();
  }

  peek(): Slot | undefined {
    return this.count > 0 ? this.slots[this.head] : undefined;
  }

  shift(): void {
    if (this.count === 0) return;
    this.head = (this.head + 1) % this.slots.length;
    this.count--;
    if (++this.drains >= TRIM_WINDOW) {
      // Keep what the last two windows needed (and a slot to fill while one is queued).
      const keep = Math.max(this.peak, this.lastPeak) + 1;
      this.lastPeak = this.peak;
      this.peak = this.count;
      this.drains = 0;
      if (this.slots.length > Math.max(POOL_SLOTS, keep)) this.shrink(Math.max(POOL_SLOTS, keep));
    }
  }

  /** Empties the queue; returns how many frames were thrown away. Keeps the steady pool for reuse. */
  clear(): number {
    const n = this.count;
    this.count = 0;
    this.head = 0;
    this.peak = this.lastPeak = this.drains = 0;
    this.shrink(POOL_SLOTS);
    return n;
  }

  /** Empties the queue and lets go of its slots and converters (their memory goes with them). */
  release(): number {
    const n = this.clear();
    for (const s of this.slots) this.giveBack(s.data);
    this.slots = [];
    this.conv = undefined;
    return n;
  }

  private owned(data: Uint8Array): boolean {
    return !!this.conv?.pool?.i420.owns(data);
  }

  /** Returns a converter slot to its pool; a burst buffer's memory goes back to the system now. */
  private giveBack(data: Buffer): void {
    const pool = this.conv?.pool;
    if (pool?.i420.owns(data)) pool.spare.push(data);
    else if ((data.buffer as Resizable).resizable) (data.buffer as Resizable).resize(0);
  }

  /** Rebuilds the ring with at most `size` slots: queued frames in order, then free pool slots first. */
  private shrink(size: number): void {
    const old = this.slots;
    if (old.length <= size) return;
    const next: Slot[] = [];
    for (let k = 0; k < this.count; k++) next.push(old[(this.head + k) % old.length]!);
    const free: Slot[] = [];
    for (let k = this.count; k < old.length; k++) free.push(old[(this.head + k) % old.length]!);
    const pool = this.conv?.pool;
    const rank = (s: Slot) => (pool?.i420.owns(s.data) ? 0 : 1);
    free.sort((a, b) => rank(a) - rank(b));
    for (const s of free) {
      if (next.length < size) next.push(s);
      else this.giveBack(s.data);
    }
    this.slots = next;
    this.head = 0;
  }

  private grow(): void {
    // Unroll the ring into a larger array; placeholder slots get buffers on first reserve().
    const old = this.slots;
    const next: Slot[] = [];
    for (let k = 0; k < this.count; k++) next.push(old[(this.head + k) % old.length]!);
    // Doubling, but never past the limit: every slot keeps its frame buffer for reuse and the
    // ring cycles through all of them, so 32 slots for a limit of 24 held a third more than
    // the queue's memory budget.
    const size = Math.max(old.length + 1, Math.min(Math.max(4, old.length * 2), this.limit));
    const empty = Buffer.alloc(0);
    while (next.length < size) next.push({ data: empty, layout: undefined as unknown as Layout, ptsNs: 0, captureMs: 0, i420: undefined });
    this.slots = next;
    this.head = 0;
  }
}
