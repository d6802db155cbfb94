/**
 * TLS for tests (rtmps, rtsps): a TLS listener on 127.0.0.1 that forwards to a plain server
 * (an RTMP relay, our RTSP server), with a throwaway self-signed certificate made by the openssl CLI.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import { listenOnLoopback } from './ports.js';

export interface TlsProxy {
  port: number;
  /** The proxy's self-signed certificate (PEM), for a client to trust. */
  cert: Buffer;
  close(): Promise<void>;
}

export function opensslAvailable(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export async function startTlsProxy(targetPort: number): Promise<TlsProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'rtmps-cert-'));
  let key: Buffer;
  let cert: Buffer;
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore', timeout: 30_000 });
    key = readFileSync(join(dir, 'key.pem'));
    cert = readFileSync(join(dir, 'cert.pem'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const sockets = new Set<Socket>();
  const server: Server = createServer({ key, cert }, (client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  // A client that rejects our certificate ends the handshake: not an error of the proxy.
  server.on('tlsClientError', () => undefined);
  const port = await listenOnLoopback(server);
  return {
    port,
    cert,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
