// Delivery through a GStreamer sink at the end of the pipeline (files, RTMP, kvssink): the bus
// says when the sink started, failed or finished (EOS).
import { GstError, type Pipeline } from '../gst/pipeline.js';
import { abortError, type Delivery, type DeliveryHost } from './delivery.js';

export class GstSinkDelivery implements Delivery {
  readonly kind = 'gst';
  /** Set while finish() waits for EOS. */
  private eos: (() => void) | undefined;
  private delivering = false;

  constructor(private readonly host: DeliveryHost, readonly tail: string) {}

  attempt(pipeline: Pipeline, signal: AbortSignal): Promise<void> {
    this.delivering = false;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else {
          this.delivering = true;
          resolve();
        }
      };
      const onAbort = () => settle(abortError(signal));
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      let started = false;
      pipeline.play({
        // Started (PAUSED, then PLAYING: act once) is not yet delivering: ask the destination.
        onStarted: () => {
          if (started) return;
          started = true;
          this.host.destinationReady(pipeline, signal).then(() => settle(), (e: Error) => settle(e));
        },
        onEos: () => this.eos?.(),
        onError: (err) => {
          if (!settled) return settle(this.host.describeError(err));
          // Failing while stop() waits for EOS: there is nothing more to wait for.
          if (this.eos) return this.eos();
          if (!this.delivering) return;
          this.delivering = false;
          const retryable = this.host.retryableSinkError(err);
          this.host.failed(this.host.describeError(err), retryable);
        },
      });
    });
  }

  retryable(err: Error, tries: number): boolean {
    // Errors of our own making (timeouts, a destination not ready) are retried once reconnecting.
    return this.host.retryableSinkError(err as GstError) || (tries > 1 && !(err instanceof GstError));
  }

  pushed(): void {}

  finish(pipeline: Pipeline, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        this.eos = undefined;
        signal.removeEventListener('abort', done);
        resolve();
      };
      if (signal.aborted) return done();
      signal.addEventListener('abort', done, { once: true });
      this.eos = done;
      pipeline.sendEos();
    });
  }

  stop(pipeline: Pipeline): void {
    this.delivering = false;
    this.eos?.();
    pipeline.stop();
  }

  encoded(pushed: number, appsrcLevel: number): number {
    // Every frame appsrc has passed on is encoded.
    return Math.max(0, pushed - appsrcLevel);
  }

  bytes(): number {
    return 0;
  }
}
