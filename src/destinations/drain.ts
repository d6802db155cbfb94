// The 'drain' promise of a destination whose queue is appsrc: after write() said false, a short
// poll notices when the queue has room again. The binding gives no need-data callback to Node.
export class DrainPoll {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    /** True when the queue has room again. */
    private readonly hasRoom: () => boolean,
    private readonly drained: () => void,
    private readonly everyMs = 10,
  ) {}

  /** Starts polling (once; a second call while polling does nothing). */
  arm(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (!this.hasRoom()) return;
      this.cancel();
      this.drained();
    }, this.everyMs);
    // A full queue must not keep the process alive on its own.
    this.timer.unref();
  }

  cancel(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
