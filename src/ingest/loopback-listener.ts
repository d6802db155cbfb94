/**
 * A one-shot loopback TCP listener for a pipeline's tcpclientsink: the first connection wins and
 * the listening socket closes at once, so nothing else on the machine can connect in its place
 * or beside it afterwards. A new pipeline run gets a new listener (and port).
 */
import net from 'node:net';

export class OneConnectionListener {
  private readonly server = net.createServer({ noDelay: true });
  private accepted: Promise<net.Socket>;
  private socket: net.Socket | undefined;
  port = 0;

  constructor() {
    this.accepted = new Promise((resolve) => {
      this.server.once('connection', (s) => {
        this.socket = s;
        this.server.close();
        resolve(s);
      });
    });
    // A failed accept (EMFILE) costs that connection, not the process.
    this.server.on('error', () => undefined);
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as net.AddressInfo).port;
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
