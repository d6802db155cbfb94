// The bounded queue between put() and the encoder. Slots own their buffers and are
// recycled, so a steady stream allocates nothing; when full, the oldest frame goes.
// Packed RGB slots live inside the converter's WebAssembly memory, so the drain converts a
// frame where put() copied it: one copy of the frame's bytes fewer than a slot on the heap.
import { RgbToI420 } from './convert/rgb-to-i420.js';
import type { Layout } from './frame.js';

export interface Slot {
  data: Buffer;
  layout: Layout;
  ptsNs: number;
  captureMs: number;
}

export class FrameQueue {
  private slots: Slot[] = [];
  private head = 0;
  private count = 0;
  /** Most frames held before the oldest is dropped (can be raised for a warmup backlog). */
  limit: number;
  /** The converter of the last layout asked for, and how many of its slots are handed out. */
  private conv: { layout: Layout; i420: RgbToI420 | undefined; handed: number } | undefined;

  constructor(limit: number) {
    this.limit = Math.max(1, limit);
  }

  get length(): number {
    return this.count;
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
    const conv = layout && this.converterFor(layout);
    if (conv && !conv.owns(slot.data) && this.conv!.handed < conv.slots && bytes === layout!.srcSize) {
      // Moves into the converter's memory: the drain converts it there without copying it in.
      slot = { ...slot, data: conv.slot(this.conv!.handed++) };
      this.slots[i] = slot;
    } else if (slot.data.length !== bytes) {
      // allocUnsafeSlow: a buffer of its own, not a slice of Node's shared pool.
      slot = { ...slot, data: Buffer.allocUnsafeSlow(bytes) };
      this.slots[i] = slot;
    }
    return { slot, evicted };
  }

  /**
   * The WebAssembly converter to I420 for frames of `layout` (undefined: the pipeline's
   * videoconvert does it), with a slot in its memory for every frame the queue may hold.
   */
  converterFor(layout: Layout): RgbToI420 | undefined {
    const c = this.conv;
    // A raised limit gets a converter with room for it; slots move over as they are reused.
    if (c?.layout === layout && (c.i420 === undefined || c.i420.slots >= this.limit)) return c.i420;
    this.conv = { layout, i420: RgbToI420.for(layout, undefined, this.limit), handed: 0 };
    return this.conv.i420;
  }

  /** Makes the last reserved slot part of the queue. */
  commit(): void {
    this.count++;
  }

  /** Adds a slot whose buffer the caller already filled (warmup frames). */
  adopt(entry: Slot): void {
    if (this.count === this.slots.length) this.grow();
    this.slots[(this.head + this.count) % this.slots.length] = entry;
    this.count++;
  }

  peek(): Slot | undefined {
    return this.count > 0 ? this.slots[this.head] : undefined;
  }

  shift(): void {
    if (this.count === 0) return;
    this.head = (this.head + 1) % this.slots.length;
    this.count--;
  }

  /** Empties the queue; returns how many frames were thrown away. Keeps at most `limit` buffers for reuse. */
  clear(): number {
    const n = this.count;
    this.count = 0;
    this.head = 0;
    if (this.slots.length > this.limit) this.slots.length = this.limit;
    return n;
  }

  /** Empties the queue and lets go of its slots and converter (their memory goes with them). */
  release(): number {
    const n = this.clear();
    this.slots = [];
    this.conv = undefined;
    return n;
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
    while (next.length < size) next.push({ data: empty, layout: undefined as unknown as Layout, ptsNs: 0, captureMs: 0 });
    this.slots = next;
    this.head = 0;
  }
}
