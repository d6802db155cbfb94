// Receives RTP framed over TCP (RFC 4571: 16-bit length, then the packet) from the
// pipeline's tcpclientsink, and hands out H.264 access units. Node sockets only: no
// libuv threadpool thread is held while streaming (the binding's appsink would hold one).
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { H264Depacketizer, type DepacketizedUnit } from './depacketizer.js';
import { parseRtp } from './packet.js';

export interface RtpStreamReceiverEvents {
  unit: [DepacketizedUnit];
  connect: [];
  disconnect: [];
}

export class RtpStreamReceiver extends EventEmitter<RtpStreamReceiverEvents> {
  private readonly server = net.createServer((s) => this.accept(s));
  private socket: net.Socket | undefined;
  private depacketizer = this.newDepacketizer();

  /** Listens on 127.0.0.1 and a free port; resolves with the port. */
  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    // Later listener errors (e.g. EMFILE on accept) cost at most that connection; the producer reconnects.
    this.server.on('error', () => undefined);
    return (this.server.address() as net.AddressInfo).port;
  }

  get connected(): boolean {
    return this.socket !== undefined;
  }

  get droppedUnits(): number {
    return this.depacketizer.dropped;
  }

  async close(): Promise<void> {
    this.socket?.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private newDepacketizer(): H264Depacketizer {
    return new H264Depacketizer((u) => this.emit('unit', u));
  }

  private accept(socket: net.Socket): void {
    // One producer at a time: a restarted pipeline replaces the old connection.
    this.socket?.destroy();
    this.socket = socket;
    this.depacketizer = this.newDepacketizer();
    socket.setNoDelay(true);
    let pending: Buffer | undefined;
    socket.on('data', (chunk: Buffer) => {
      try {
        const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
        let off = 0;
        while (off + 2 <= buf.length) {
          const len = buf.readUInt16BE(off);
          if (off + 2 + len > buf.length) break;
          const packet = parseRtp(buf.subarray(off + 2, off + 2 + len));
          if (packet) this.depacketizer.push(packet);
          off += 2 + len;
        }
        // Keep only the unfinished tail, under 64 KiB by framing (copied: the chunk's memory is not ours to pin).
        pending = off < buf.length ? Buffer.from(buf.subarray(off)) : undefined;
      } catch {
        // A 'unit' listener threw: end this connection rather than the process ('disconnect' tells the owner).
        socket.destroy();
      }
    });
    const gone = () => {
      if (this.socket === socket) {
        this.socket = undefined;
        this.emit('disconnect');
      }
    };
    socket.on('close', gone);
    socket.on('error', () => socket.destroy());
    this.emit('connect');
  }
}
