/**
 * Which pages may reach the preview. Browsers let any website open a WebSocket to any address
 * (127.0.0.1 included) and send cookies of the target's site with it; only the `Origin` header
 * tells who asked. A `Host` that names a foreign domain is DNS rebinding: a page on
 * attacker.example whose name now resolves to 127.0.0.1 is same-origin with itself.
 */
import net from 'node:net';

export interface OriginPolicyOptions {
  /** Address the server is bound to (a name there is accepted as a Host). */
  bindHost: string;
  /** More names a Host header may carry (the names the server is reached by: "cam.example"). */
  allowedHosts?: string[];
  /** Origins of pages on other hosts or ports allowed to open the WebSocket ("https://app.example:8443"). */
  allowedOrigins?: string[];
}

export class OriginPolicy {
  private readonly hosts: Set<string>;
  private readonly origins: Set<string>;

  constructor(o: OriginPolicyOptions) {
    this.hosts = new Set((o.allowedHosts ?? []).map((h) => h.toLowerCase()));
    if (!net.isIP(o.bindHost) && o.bindHost !== '') this.hosts.add(o.bindHost.toLowerCase());
    this.origins = new Set((o.allowedOrigins ?? []).map((s) => {
      let u: URL;
      try {
        u = new URL(s);
      } catch {
        throw new TypeError(`allowedOrigins: ${JSON.stringify(s)} is not an origin like "https://app.example"`);
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`allowedOrigins: ${JSON.stringify(s)} is not an http(s) origin`);
      return u.origin;
    }));
  }

  /**
   * A Host header the server answers: IP literals (a rebinding attack needs a name), localhost,
   * the bound name and allowedHosts. No Host at all (HTTP/1.0 tools) is no browser: allowed.
   */
  hostAllowed(host: string | undefined): boolean {
    if (host === undefined) return true;
    const name = hostname(host);
    if (name === undefined) return false;
    if (net.isIP(name) !== 0) return true;
    if (name === 'localhost' || name.endsWith('.localhost')) return true;
    return this.hosts.has(name);
  }

  /**
   * An Origin header allowed to use the stream: none (not a browser), the page's own origin
   * (same host and port as the request's Host) or one in allowedOrigins. "null" (sandboxed
   * frames, file: pages) and every other site are refused.
   */
  originAllowed(origin: string | undefined, host: string | undefined): boolean {
    if (origin === undefined) return true;
    let u: URL;
    try {
      u = new URL(origin);
    } catch {
      return false;
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return false;
    if (this.origins.has(u.origin)) return true;
    if (host === undefined) return false;
    let own: string;
    try {
      own = new URL(`${u.protocol}//${host}`).host;
    } catch {
      return false;
    }
    return own === u.host;
  }
}

/** The lower-case name or address of a Host header ("[::1]:8889" -> "::1"); undefined if it is not one. */
function hostname(host: string): string | undefined {
  try {
    const u = new URL(`http://${host}`);
    if (u.username || u.password || u.pathname !== '/' || u.search || u.hash) return undefined;
    return u.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  } catch {
    return undefined;
  }
}
