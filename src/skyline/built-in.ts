// A subclass's own destination (FileSkyLine's file, RtmpSkyLine's relay, KVSSkyLine's stream)
// speaks for its SkyLine: its errors are reported as they are (RtmpError, KvsError), its
// reconnects are the SkyLine's ('reconnecting', put() drops), its final failure fails the session.
import { DestinationError, type Destination } from '../destinations/destination.js';
import type { Lifecycle } from '../lifecycle.js';
import type { EncoderRun } from './encoder-run.js';

export interface BuiltInHost {
  readonly lifecycle: Lifecycle;
  /** The running session's encoder run, if any. */
  run(): EncoderRun | undefined;
  /** Drops (and counts) the frames waiting for the encoder. */
  dropQueued(): void;
  fail(err: Error, reported: boolean): void;
}

export class BuiltIn {
  /** Its last error, already reported: the failure of the session when it gives up. */
  private lastError: Error | undefined;

  constructor(readonly destination: Destination, private readonly host: BuiltInHost) {}

  /** What to report for a destination's error: the built-in destination's own error as it is. */
  own(err: DestinationError): Error {
    if (err.destination !== this.destination.name || !(err.cause instanceof Error)) return err;
    this.lastError = err.cause;
    return err.cause;
  }

  /** A failure of the session: the built-in destination's reads as the SkyLine's (RtmpError, KvsError, a file error). */
  unwrap(err: Error): Error {
    return err instanceof DestinationError && err.destination === this.destination.name && err.cause instanceof Error ? err.cause : err;
  }

  /** The session follows the destination's state: reconnecting, back, or failed for good. */
  follow(): void {
    const { destination: d, host } = this;
    const run = host.run();
    if (!run?.delivering) return;
    if (d.state === 'reconnecting' && host.lifecycle.is('streaming') && !d.buffersWhileReconnecting) {
      // The encoder runs on; what it makes waits in (or falls out of) the destination's backlog.
      host.dropQueued();
      host.lifecycle.to('reconnecting');
    } else if (d.state === 'streaming' && host.lifecycle.is('reconnecting')) {
      host.lifecycle.to('streaming');
      run.scheduleDrain(0);
    } else if (d.state === 'failed') {
      const err = this.lastError;
      host.fail(err ?? new Error(`${d.name} failed`), err !== undefined);
    }
  }
}
