/**
 * A one-shot loopback TCP listener for a pipeline's tcpclientsink: the first connection wins and
 * the listening socket closes at once, so nothing else on the machine can connect in its place
 * or beside it afterwards. A new pipeline run gets a new listener (and port).
 */
import net from 'node:net';
import { listenOnLoopback } from '../loopback.js';

/** Reading into one fixed buffer instead of a fresh chunk per read (net.Socket's `onread`). */
export interface ReadInto {
  buffer: Buffer;
  /** Called with the bytes read, in `buffer`; they are overwritten by the next read. */
  callback: (bytes: number, buffer: Buffer) => void;
}

export class OneConnectionListener {
  private readonly server: net.Server;
  private accepted: Promise<net.Socket>;
  private socket: net.Socket | undefined;
  port = 0;

  /**
   * With `readInto` the accepted connection reads into that buffer (its 'data' event is not used):
   * a decoder's frames arrive at 30 × 6 MB/s and a fresh chunk per 64 KiB read kept the garbage
   * collector busy. `onread` is only offered to sockets Node creates, so the accepted one's handle
   * (not read from yet: pauseOnConnect) is taken over by such a socket.
   */
  constructor(readInto?: ReadInto) {
    this.server = net.createServer({ noDelay: true, pauseOnConnect: readInto !== undefined });
    this.accepted = new Promise((resolve) => {
      this.server.once('connection', (accepted) => {
        const handle = (accepted as unknown as { _handle?: unknown })._handle;
        const s = readInto && handle ? new net.Socket({ handle, onread: readInto } as net.SocketConstructorOpts) : accepted;
        // (A Node without the handle: same callback, fed from ordinary chunks.)
        if (readInto && s === accepted) s.on('data', (d: Buffer) => readInto.callback(d.length, d));
        s.resume();
        this.socket = s;
        this.server.close();
        resolve(s);
      });
    });
  }

  async listen(): Promise<number> {
    this.port = await listenOnLoopback(this.server);
    return this.port;
  }

  /** The first connection, or undefined when none came within `timeoutMs` (the listener is then closed). */
  connection(timeoutMs: number): Promise<net.Socket | undefined> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      this.accepted,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => {
          this.close();
          resolve(undefined);
        }, timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  close(): void {
    this.socket?.destroy();
    if (this.server.listening) this.server.close();
  }
}
