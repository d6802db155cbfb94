import net from 'node:net';

/** A free TCP port on 127.0.0.1 (closed again before returning). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Listens on 127.0.0.1 and a free port; resolves with the port. Afterwards a failed accept
 * (e.g. EMFILE) costs that one connection instead of crashing the test process.
 */
export async function listenOnLoopback(server: net.Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', () => undefined);
  return (server.address() as net.AddressInfo).port;
}

/** A free UDP port on 127.0.0.1 (SRT), closed again before returning. */
export async function freeUdpPort(): Promise<number> {
  const { createSocket } = await import('node:dgram');
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
