// A destination that keeps what it is given, for tests of the producer side (fanout, outlets,
// pre-roll): it can refuse units (a full queue), fail to open, or throw from write().
import { EventEmitter } from 'node:events';
import type { Destination, DestinationEvents, DestinationLink, DestinationStats, VideoInfo } from '../../src/destinations/destination.js';
import { DestinationStatus } from '../../src/destinations/status.js';
import type { AccessUnit } from '../../src/h264/access-unit.js';

export class RecordingDestination extends EventEmitter<DestinationEvents> implements Destination {
  readonly kind = 'recording';
  readonly status: DestinationStatus;
  readonly units: AccessUnit[] = [];
  opened: VideoInfo[] = [];
  closes = 0;
  disposed = false;
  /** write() returns false while this is true. */
  full = false;
  /** open() rejects with this. */
  openError: Error | undefined;
  /** open() waits for this before it resolves. */
  openGate: Promise<void> | undefined;
  /** write() throws. */
  broken = false;
  link: DestinationLink | undefined;

  constructor(name = 'recording', readonly live = false) {
    super();
    this.status = new DestinationStatus(this, this.kind, name);
  }

  get name(): string {
    return this.status.name;
  }

  get state() {
    return this.status.state;
  }

  async open(video: VideoInfo, link: DestinationLink): Promise<void> {
    this.link = link;
    this.status.to('opening');
    if (this.openGate) await this.openGate;
    if (this.openError) {
      this.status.to('failed');
      throw this.openError;
    }
    this.opened.push(video);
    this.status.to('streaming');
  }

  write(au: AccessUnit): boolean {
    if (this.broken) throw new Error('write broke');
    if (this.full) return false;
    this.units.push(au);
    this.status.unitsIn++;
    return true;
  }

  /** Takes units again, and says so. */
  unblock(): void {
    this.full = false;
    this.emit('drain');
  }

  async close(): Promise<void> {
    this.closes++;
    this.status.to('idle');
  }

  async dispose(): Promise<void> {
    this.disposed = true;
  }

  stats(): DestinationStats {
    return this.status.stats();
  }
}
