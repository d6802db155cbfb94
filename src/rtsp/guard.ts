/**
 * Per-client-address limits shared by the RTSP and web servers: failed logins (password and token
 * guessing) and simultaneous connections (one address exhausting the server's cap).
 */

export interface AuthLimitOptions {
  /** Wrong credentials from one address before it is refused for a while. Default 10. */
  maxFailures?: number;
  /** How long an address is refused after maxFailures, and how long its failures are remembered, ms. Default 60000. */
  lockoutMs?: number;
}

/** Addresses remembered at most: beyond it the oldest are forgotten (memory stays bounded). */
const MAX_TRACKED = 10_000;

export class AuthFailures {
  readonly maxFailures: number;
  readonly lockoutMs: number;
  /** Address -> failures and the time of the last one. Insertion order is age order. */
  private readonly byAddress = new Map<string, { count: number; last: number }>();
  /** Requests refused because their address was locked out. */
  refused = 0;

  constructor(o: AuthLimitOptions = {}, private readonly now: () => number = Date.now) {
    this.maxFailures = o.maxFailures ?? 10;
    this.lockoutMs = o.lockoutMs ?? 60_000;
    if (!(this.maxFailures >= 1)) throw new RangeError(`authLimit.maxFailures must be at least 1, got ${this.maxFailures}`);
    if (!(this.lockoutMs >= 0)) throw new RangeError(`authLimit.lockoutMs must be 0 or more, got ${this.lockoutMs}`);
  }

  /** Seconds until `address` may try again; 0 when it may now. */
  retryAfterSec(address: string): number {
    const e = this.entry(address);
    if (!e || e.count < this.maxFailures) return 0;
    return Math.max(1, Math.ceil((e.last + this.lockoutMs - this.now()) / 1000));
  }

  /** Counts a failure; returns the address's count (== maxFailures when this one locked it out). */
  fail(address: string): number {
    const e = this.entry(address) ?? { count: 0, last: 0 };
    e.count++;
    e.last = this.now();
    this.byAddress.delete(address);
    this.byAddress.set(address, e);
    if (this.byAddress.size > MAX_TRACKED) this.byAddress.delete(this.byAddress.keys().next().value!);
    return e.count;
  }

  succeed(address: string): void {
    this.byAddress.delete(address);
  }

  private entry(address: string): { count: number; last: number } | undefined {
    const e = this.byAddress.get(address);
    if (e && this.now() - e.last > this.lockoutMs) {
      this.byAddress.delete(address);
      return undefined;
    }
    return e;
  }
}

/** Open connections per client address. */
export class ConnectionsPerAddress {
  private readonly open = new Map<string, number>();

  constructor(readonly max: number) {
    if (!(max >= 1)) throw new RangeError(`maxConnectionsPerAddress must be at least 1, got ${max}`);
  }

  /** Takes a place for `address`; false when it has `max` already. */
  take(address: string): boolean {
    const n = this.open.get(address) ?? 0;
    if (n >= this.max) return false;
    this.open.set(address, n + 1);
    return true;
  }

  release(address: string): void {
    const n = (this.open.get(address) ?? 1) - 1;
    if (n <= 0) this.open.delete(address);
    else this.open.set(address, n);
  }
}

/** An address as counted: IPv4-mapped IPv6 as its IPv4 form. */
export function clientAddress(a: string | undefined): string {
  return (a ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
}
