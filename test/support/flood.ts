// Silent TCP connections from another loopback address (127.0.0.2: another host, as the server
// sees it), for connection-exhaustion tests.
import net from 'node:net';

export interface Flood {
  sockets: net.Socket[];
  /** How many the server closed. */
  readonly closed: number;
  end(): void;
}

export async function flood(port: number, n: number, from = '127.0.0.2'): Promise<Flood> {
  const sockets: net.Socket[] = [];
  let closed = 0;
  await Promise.all(Array.from({ length: n }, () => new Promise<void>((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress: from }, () => resolve());
    s.on('error', () => resolve());
    s.on('close', () => {
      closed++;
      resolve();
    });
    sockets.push(s);
  })));
  return {
    sockets,
    get closed() {
      return closed;
    },
    end: () => {
      for (const s of sockets) s.destroy();
    },
  };
}

/** Polls `done` every 20 ms, at most `tries` times; true when it held. */
export async function settle(done: () => boolean, tries = 250): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (done()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return done();
}
