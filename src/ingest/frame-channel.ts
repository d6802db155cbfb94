/**
 * The bounded buffer behind `for await (const frame of source)`: decoded frames wait here for a
 * consumer. When it is full the oldest frame is dropped and counted (a slow consumer gets the
 * newest pictures, like a camera viewer), unless the channel is lossless (a file read fast,
 * where the source waits instead).
 */

export class FrameChannel<T> {
  private items: T[] = [];
  private waiter: ((r: IteratorResult<T>) => void) | undefined;
  private done = false;
  private failure: Error | undefined;
  dropped = 0;
  delivered = 0;

  constructor(
    readonly capacity: number,
    readonly lossless: boolean,
    private readonly onSpace: () => void = () => undefined,
  ) {}

  get size(): number {
    return this.items.length;
  }

  get full(): boolean {
    return this.items.length >= this.capacity;
  }

  get closed(): boolean {
    return this.done;
  }

  push(item: T): void {
    if (this.done) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      this.delivered++;
      w({ value: item, done: false });
      return;
    }
    // Lossless: the owner stops producing when the channel is full; what was already on its way
    // (a few frames in the decoder) still gets in.
    if (this.items.length >= this.capacity && !this.lossless) {
      this.items.shift();
      this.dropped++;
    }
    this.items.push(item);
  }

  /** No more items; `err` makes the consumer's loop throw once the buffered items are taken. */
  end(err?: Error): void {
    if (this.done) return;
    this.done = true;
    this.failure = err;
    if (this.waiter && this.items.length === 0) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<T>> {
    const item = this.items.shift();
    if (item !== undefined) {
      this.delivered++;
      this.onSpace();
      return Promise.resolve({ value: item, done: false });
    }
    if (this.done) {
      const err = this.failure;
      this.failure = undefined;
      return err ? Promise.reject(err) : Promise.resolve({ value: undefined, done: true });
    }
    this.onSpace();
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }
}
