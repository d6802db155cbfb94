/**
 * AWS credentials for the KVS producer: an AWS SDK v3 credential provider
 * (default: the standard Node chain), cached and refreshed ahead of expiry,
 * plus the kvssink credential file kept fresh for the plugin.
 */
import { rmSync } from 'node:fs';
import { chmod, lstat, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

export type { AwsCredentialIdentity, AwsCredentialIdentityProvider };

/** Static credentials or a provider function, as the AWS SDK v3 accepts them. */
export type CredentialsOption = AwsCredentialIdentity | AwsCredentialIdentityProvider;

/** Refresh this long before credentials expire (the SDK's own margin is 5 minutes). */
export const DEFAULT_REFRESH_MARGIN_MS = 5 * 60_000;

async function defaultProvider(): Promise<AwsCredentialIdentityProvider> {
  const { fromNodeProviderChain } = await import('@aws-sdk/credential-providers');
  return fromNodeProviderChain();
}

/** Longest wait for a credential provider (IMDS, SSO, STS) to answer. */
export const DEFAULT_PROVIDER_TIMEOUT_MS = 10_000;

/** A provider that never answers fails the fetch instead of hanging whoever waits for it. */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the AWS credential provider did not answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Identity of a credential set, to tell whether a refresh brought anything new (never logged). */
function sameCredentials(a: AwsCredentialIdentity, b: AwsCredentialIdentity): boolean {
  return a.accessKeyId === b.accessKeyId && a.secretAccessKey === b.secretAccessKey && a.sessionToken === b.sessionToken;
}

export class CredentialSource {
  // ES private fields: inspecting or serializing the source (or anything holding it) never shows a key.
  #provider?: AwsCredentialIdentityProvider;
  #current?: AwsCredentialIdentity;
  #inflight?: Promise<AwsCredentialIdentity>;
  private readonly onSecret: (s: string) => void;

  /**
   * @param option static credentials, a provider, or undefined for the default Node chain
   * @param onSecret called with every secret seen (access key id, secret key, session token), so loggers can redact it
   */
  constructor(
    option: CredentialsOption | undefined,
    opts: { refreshMarginMs?: number; onSecret?: (secret: string) => void; timeoutMs?: number } = {},
  ) {
    this.refreshMarginMs = opts.refreshMarginMs ?? DEFAULT_REFRESH_MARGIN_MS;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_PROVIDER_TIMEOUT_MS;
    this.onSecret = opts.onSecret ?? (() => {});
    if (typeof option === 'function') this.#provider = option;
    else if (option) this.#provider = async () => option;
  }

  readonly refreshMarginMs: number;
  /** Longest wait for the provider to answer, ms. */
  readonly timeoutMs: number;

  /** Credentials valid for at least the refresh margin (fetched again when closer to expiry). */
  async get(): Promise<AwsCredentialIdentity> {
    if (this.#current && !this.expiringSoon(this.#current)) return this.#current;
    return this.fetch(this.#current !== undefined);
  }

  /** Fetches again, bypassing caches; resolves true when something new came back. */
  async refresh(): Promise<boolean> {
    const before = this.#current;
    const after = await this.fetch(true);
    return !before || !sameCredentials(before, after);
  }

  /** Epoch ms when the cached credentials expire (undefined: they do not). */
  get expiresAtMs(): number | undefined {
    return this.#current?.expiration?.getTime();
  }

  /** True when these credentials expire within the refresh margin. */
  expiringSoon(c: AwsCredentialIdentity | undefined = this.#current): boolean {
    const exp = c?.expiration?.getTime();
    return exp !== undefined && exp - Date.now() <= this.refreshMarginMs;
  }

  /**
   * A provider view of this source for the AWS SDK client. Marked memoized so
   * the SDK uses our cache and sees a refresh() at once instead of keeping its own copy.
   */
  asProvider(): AwsCredentialIdentityProvider {
    return Object.assign(() => this.get(), { memoized: true });
  }

  private fetch(force: boolean): Promise<AwsCredentialIdentity> {
    this.#inflight ??= (async () => {
      try {
        this.#provider ??= await defaultProvider();
        const provider = this.#provider as (o?: { forceRefresh?: boolean }) => Promise<AwsCredentialIdentity>;
        const call = (o?: { forceRefresh?: boolean }) => withTimeout(provider(o), this.timeoutMs);
        let c = await call(force ? { forceRefresh: true } : undefined);
        if (this.expiringSoon(c) && !force) c = await call({ forceRefresh: true });
        if (!c?.accessKeyId || !c.secretAccessKey) throw new Error('the AWS credential provider returned no access key');
        this.onSecret(c.accessKeyId);
        this.onSecret(c.secretAccessKey);
        if (c.sessionToken) this.onSecret(c.sessionToken);
        this.#current = c;
        return c;
      } finally {
        this.#inflight = undefined;
      }
    })();
    return this.#inflight;
  }
}

/** kvssink credential-file timestamp format: %Y-%m-%dT%H:%M:%SZ. */
function kvssinkTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** One credential-file line in the format kvssink's file credential provider reads. */
export function kvssinkCredentialLine(c: AwsCredentialIdentity): string {
  if (c.sessionToken) {
    // kvssink needs an expiry with a token; without one, claim the usual 1 h session lifetime.
    const exp = c.expiration ?? new Date(Date.now() + 3600_000);
    return `CREDENTIALS\t${c.accessKeyId}\t${kvssinkTime(exp)}\t${c.secretAccessKey}\t${c.sessionToken}\n`;
  }
  return `CREDENTIALS\t${c.accessKeyId}\t${c.secretAccessKey}\n`;
}

const DIR_PREFIX = 'skyline-kvs-';
/** This process's credential directories, removed at exit: an error that ends the process leaves no key behind. */
const ownDirs = new Set<string>();
let exitHook = false;

function removeAtExit(dir: string): void {
  ownDirs.add(dir);
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const d of ownDirs) {
      try {
        rmSync(d, { recursive: true, force: true });
      } catch {
        // exiting anyway
      }
    }
  });
}

/**
 * Removes credential directories (skyline-kvs-<pid>-*) of this user's processes that are gone
 * without cleaning up (killed, crashed, power lost): their files still hold AWS keys.
 * Returns how many were removed.
 */
export async function sweepCredentialDirs(base = tmpdir()): Promise<number> {
  let removed = 0;
  for (const name of await readdir(base).catch(() => [] as string[])) {
    const pid = Number(/^skyline-kvs-(\d+)-/.exec(name)?.[1] ?? NaN);
    if (!Number.isInteger(pid) || pid === process.pid || alive(pid)) continue;
    const dir = join(base, name);
    const st = await lstat(dir).catch(() => undefined);
    // Only real directories of our own user: never follow a link someone else planted.
    if (!st?.isDirectory() || (process.getuid && st.uid !== process.getuid())) continue;
    await rm(dir, { recursive: true, force: true }).then(() => removed++, () => undefined);
  }
  return removed;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The credential file kvssink reads (credential-path): written 0600 in a
 * private temp directory, replaced atomically, rewritten before expiry.
 * The path stays the same for every session of one owner (the launch string,
 * and so the cached pipeline, stay the same): stop() removes the file, dispose()
 * the directory.
 */
export class KvssinkCredentialFile {
  private dir?: string;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly source: CredentialSource,
    private readonly onError: (err: Error) => void,
    /** Rewrite at least this long before expiry (kvssink re-reads the file as its own copy nears expiry). */
    private readonly leadMs = 2 * 60_000,
  ) {}

  get path(): string {
    if (!this.dir) throw new Error('credential file not written yet');
    return join(this.dir, 'credentials');
  }

  /** Writes the file (in the same directory as the previous session's) and keeps it fresh; resolves its path. */
  async start(): Promise<string> {
    this.stopped = false;
    // The directory is ours (mkdtemp, 0700) until dispose(); only the file comes and goes.
    if (!this.dir) {
      await sweepCredentialDirs();
      // Named with our pid, so a later process can tell it was left behind.
      this.dir = await mkdtemp(join(tmpdir(), `${DIR_PREFIX}${process.pid}-`));
      removeAtExit(this.dir);
    }
    try {
      await chmod(this.dir, 0o700);
      await this.write(await this.source.get());
    } catch (err) {
      await this.stop();
      throw err;
    }
    return this.path;
  }

  private async write(c: AwsCredentialIdentity): Promise<void> {
    if (this.stopped || !this.dir) return; // a refresh that finished after stop(): the file is gone
    const tmp = `${this.path}.tmp`;
    await writeFile(tmp, kvssinkCredentialLine(c), { mode: 0o600 });
    await rename(tmp, this.path);
    this.schedule(c);
  }

  private schedule(c: AwsCredentialIdentity): void {
    clearTimeout(this.timer);
    const exp = c.expiration?.getTime();
    if (exp === undefined || this.stopped) return;
    // Wake when the source itself counts them as expiring (or at leadMs, if that is earlier): get() then
    // fetches fresh ones. Waking before that would only rewrite the same keys, then poll.
    const wait = Math.max(1000, Math.min(exp - Date.now() - Math.max(this.leadMs, this.source.refreshMarginMs), 2 ** 31 - 1));
    this.timer = setTimeout(() => {
      this.source
        .get()
        .then((fresh) => this.write(fresh))
        .catch((err: Error) => {
          if (this.stopped) return;
          this.onError(err);
          this.timer = setTimeout(() => this.schedule(c), 10_000);
          this.timer.unref();
        });
    }, wait);
    this.timer.unref();
  }

  /** Stops refreshing and deletes the file (the secrets); the directory stays for the next start(). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.dir) await rm(join(this.dir, 'credentials'), { force: true });
    if (this.dir) await rm(join(this.dir, 'credentials.tmp'), { force: true });
  }

  /** stop(), and the directory removed too. */
  async dispose(): Promise<void> {
    await this.stop();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    if (this.dir) ownDirs.delete(this.dir);
    this.dir = undefined;
  }
}
