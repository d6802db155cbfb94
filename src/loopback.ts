// The loopback side of a pipeline's tcpclientsink: a server on 127.0.0.1 at a free port, so
// nothing outside this machine can reach it. Listener errors after that (EMFILE on accept) cost
// at most that connection, never the process.
import type net from 'node:net';

/** Listens on 127.0.0.1 at a free port; resolves with the port. */
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
