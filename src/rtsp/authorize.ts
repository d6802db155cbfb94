// Credentials of RTSP requests, with wrong ones counted per client address (src/rtsp/guard.ts).
import type { Logger } from 'pino';
import type { RtspConnection } from './connection.js';
import { AuthFailures, clientAddress, type AuthLimitOptions } from './guard.js';
import type { RtspRequest, RtspResponse } from './message.js';
import type { RtspMount } from './mount.js';

export class AuthGate {
  private readonly failures: AuthFailures;

  constructor(limit: AuthLimitOptions | undefined, private readonly log: Logger | undefined) {
    this.failures = new AuthFailures(limit);
  }

  /** Checks credentials, counting wrong ones per client address (guessing goes no faster than authLimit). */
  authorize(conn: RtspConnection, mount: RtspMount, req: RtspRequest): RtspResponse | undefined {
    const auth = mount.authenticator;
    if (!auth) return undefined;
    const client = clientAddress(conn.remoteAddress);
    const wait = this.failures.retryAfterSec(client);
    if (wait > 0) {
      this.failures.refused++;
      return { status: 503, headers: { 'Retry-After': wait } };
    }
    // Nonces are bound to this connection: a Digest header captured elsewhere is stale here.
    const ctx = { uri: req.uri, scope: String(conn.id) };
    const result = auth.check(req.method, req.headers['authorization'], ctx);
    if (result.ok) {
      this.failures.succeed(client);
      return undefined;
    }
    // Only a wrong password is a guess: no header, an old nonce, a scheme we do not offer or a
    // malformed header could never have succeeded (and players do send them on their way in).
    if (result.reason === 'bad-credentials') {
      const failures = this.failures.fail(client);
      const locked = failures === this.failures.maxFailures;
      this.log?.warn({ client, path: mount.path, reason: result.reason, failures, ...(locked ? { lockedForMs: this.failures.lockoutMs } : {}) }, locked ? 'authentication failed: too many, address locked out' : 'authentication failed');
    }
    return { status: 401, headers: { 'WWW-Authenticate': auth.challenges(result.reason === 'stale-nonce', ctx) } };
  }
}
