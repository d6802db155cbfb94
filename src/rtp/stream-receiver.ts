// Receives RTP framed over TCP (RFC 4571: 16-bit length, then the packet) from the
// pipeline's tcpclientsink, and hands out H.264 access units. Node sockets only: no
// libuv threadpool thread is held while streaming (the binding's appsink would hold one).
//
// With `single`, the listener takes exactly one connection and closes at once, so no other
// local process can connect after our encoder did; with `ssrc`, packets of any other RTP
// source are dropped, and a connection whose first packet is not ours is cut ('foreign').
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { H264Depacketizer, type DepacketizedUnit } from './depacketizer.js';
import { parseRtp } from './packet.js';
import { listenOnLoopback } from '../loopback.js';

export interface RtpStreamReceiverEvents {
  unit: [DepacketizedUnit];
  connect: [];
  disconnect: [];
  /** A connection sent RTP of another source than `ssrc` first: it was closed. */
  foreign: [];
}

export interface RtpStreamReceiverOptions {
  /** Accept one connection only; the listener closes as soon as it came. Default false. */
  single?: boolean;
  /** The only RTP SSRC taken (the secret set on our payloader). Default: any. */
  ssrc?: number;
}

export class RtpStreamReceiver extends EventEmitter<RtpStreamReceiverEvents> {
  private readonly server = net.createServer((s) => this.accept(s));
  private socket: net.Socket | undefined;
  private depacketizer = this.newDepacketizer();
  private listening = false;
  /** Packets dropped for carrying another SSRC. */
  foreignPackets = 0;

  constructor(private readonly options: RtpStreamReceiverOptions = {}) {
    super();
  }

  /** Listens on 127.0.0.1 and a free port; resolves with the port. */
  async listen(): Promise<number> {
    const port = await listenOnLoopback(this.server);
    this.listening = true;
    return port;
  }

  get connected(): boolean {
    return this.socket !== undefined;
  }

  get droppedUnits(): number {
    return this.depacketizer.dropped;
  }

  async close(): Promise<void> {
    this.socket?.destroy();
    await this.stopListening();
  }

  private stopListening(): Promise<void> {
    if (!this.listening) return Promise.resolve();
    this.listening = false;
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private newDepacketizer(): H264Depacketizer {
    return new H264Depacketizer((u) => this.emit('unit', u));
  }

  private accept(socket: net.Socket): void {
    if (this.options.single) {
      if (!this.listening) {
        socket.destroy();
        return;
      }
      void this.stopListening();
    }
    // One producer at a time: a restarted pipeline replaces the old connection.
    this.socket?.destroy();
    this.socket = socket;
    this.depacketizer = this.newDepacketizer();
    socket.setNoDelay(true);
    const expected = this.options.ssrc;
    let first = true;
    let pending: Buffer | undefined;
    socket.on('data', (chunk: Buffer) => {
      try {
        const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
        let off = 0;
        while (off + 2 <= buf.length) {
          const len = buf.readUInt16BE(off);
          if (off + 2 + len > buf.length) break;
          const packet = parseRtp(buf.subarray(off + 2, off + 2 + len));
          off += 2 + len;
          if (!packet) continue;
          if (expected !== undefined && packet.ssrc !== expected) {
            this.foreignPackets++;
            if (first) {
              // Not our encoder: whoever this is does not get to feed the stream.
              socket.destroy();
              this.emit('foreign');
              return;
            }
            continue;
          }
          first = false;
          this.depacketizer.push(packet);
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
