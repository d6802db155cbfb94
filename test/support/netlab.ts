// A small network lab for tests (facts.md section 15): a network namespace of our own joined to
// the root namespace by a veth pair on a private /30, with random loss added by nftables inside
// the namespace (this kernel has no netem). Needs root, `ip` (iproute2) and `nft` (nftables).
//
//   const lab = await NetLab.create();
//   await lab.addLoss(2);                       // 2 % of packets dropped, both directions
//   const ff = lab.spawn('ffmpeg', [...]);      // runs inside the namespace, listens on lab.nsAddress
//   ...                                         // we reach it from the root namespace at lab.nsAddress
//   await lab.dispose();                        // idempotent; also run on process exit
//
// Only the namespace, its veth pair and its nft table are ever created or removed. The loss rules
// live inside the namespace and match only its end of the veth, so no other traffic, address or
// ruleset is touched.
import { execFile, spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { commandWorks } from './require-tool.js';

const run = promisify(execFile);

/** Every lab namespace is named `${PREFIX}<pid>-<n>`, so leftovers of a dead test can be told apart. */
const PREFIX = 'skylab-';
/** Addresses come from 10.231.0.0/16, one /30 per lab. */
const NET = [10, 231];
const TABLE = 'skylab_loss';
const CMD_TIMEOUT_MS = 10_000;

let counter = 0;
const live = new Set<NetLab>();

/** True when this process can run a lab: root, with `ip` and `nft` working. */
export function netlabAvailable(): boolean {
  return process.getuid?.() === 0 && commandWorks('ip', ['-V']) && commandWorks('nft', ['--version']);
}

export interface LossCounters {
  /** Packets that reached the input rules (into the namespace), dropped ones included. */
  inputPackets: number;
  /** Packets the input rule dropped. */
  inputDropped: number;
  /** Packets that reached the output rules (out of the namespace), dropped ones included. */
  outputPackets: number;
  /** Packets the output rule dropped. */
  outputDropped: number;
}

export class NetLab {
  private disposed = false;
  private readonly children = new Set<ChildProcess>();
  private lossTable = false;

  private constructor(
    /** The namespace's name (`ip netns exec <ns> ...`). */
    readonly ns: string,
    /** The veth end in the root namespace. */
    readonly hostIf: string,
    /** The veth end inside the namespace. */
    readonly nsIf: string,
    /** The root namespace's address on the veth. */
    readonly hostAddress: string,
    /** The namespace's address: what the root namespace connects to. */
    readonly nsAddress: string,
  ) {}

  /** Makes the namespace, the veth pair and their addresses, links up. Cleans up after itself if a step fails. */
  static async create(): Promise<NetLab> {
    sweepDeadLabs();
    const n = counter++;
    const ns = `${PREFIX}${process.pid}-${n}`;
    const tag = ifTag(process.pid, n);
    const [hostAddress, nsAddress] = await freeSlash30(n);
    const lab = new NetLab(ns, `${tag}h`, `${tag}n`, hostAddress, nsAddress);
    live.add(lab);
    installExitHook();
    try {
      await ip('netns', 'add', ns);
      await ip('link', 'add', lab.hostIf, 'type', 'veth', 'peer', 'name', lab.nsIf, 'netns', ns);
      await ip('addr', 'add', `${hostAddress}/30`, 'dev', lab.hostIf);
      await ip('link', 'set', lab.hostIf, 'up');
      await ip('-n', ns, 'addr', 'add', `${nsAddress}/30`, 'dev', lab.nsIf);
      await ip('-n', ns, 'link', 'set', lab.nsIf, 'up');
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
    } catch (e) {
      await lab.dispose();
      throw e;
    }
    return lab;
  }

  /**
   * Drops `percent` % of the packets crossing the namespace's veth end at random, in the
   * directions asked for, with nftables inside the namespace: `numgen random mod 100 < N drop`,
   * with a counter read by `lossCounters()`.
   */
  async addLoss(percent: number, directions: { input?: boolean; output?: boolean } = { input: true, output: true }): Promise<void> {
    if (!Number.isInteger(percent) || percent < 0 || percent > 100) throw new RangeError(`loss must be a whole percentage 0..100, got ${percent}`);
    this.live();
    if (!this.lossTable) {
      await this.nft('add', 'table', 'inet', TABLE);
      this.lossTable = true;
    }
    for (const [dir, hook, match] of [['input', 'input', 'iifname'], ['output', 'output', 'oifname']] as const) {
      if (!directions[dir]) continue;
      await this.nft('add', 'chain', 'inet', TABLE, dir, `{ type filter hook ${hook} priority 0; policy accept; }`);
      // A counting rule first (what crossed), then the dropping one (what was dropped).
      await this.nft('add', 'rule', 'inet', TABLE, dir, match, this.nsIf, 'counter');
      await this.nft('add', 'rule', 'inet', TABLE, dir, match, this.nsIf, 'numgen', 'random', 'mod', '100', '<', String(percent), 'counter', 'drop');
    }
  }

  /** Packets the loss rules dropped so far (from `nft -j list table`). */
  async lossCounters(): Promise<LossCounters> {
    this.live();
    const out: LossCounters = { inputPackets: 0, inputDropped: 0, outputPackets: 0, outputDropped: 0 };
    if (!this.lossTable) return out;
    const { stdout } = await run('ip', ['netns', 'exec', this.ns, 'nft', '-j', 'list', 'table', 'inet', TABLE], { timeout: CMD_TIMEOUT_MS });
    const items = (JSON.parse(stdout) as { nftables: Array<Record<string, unknown>> }).nftables;
    for (const item of items) {
      const rule = item.rule as { chain: string; expr: Array<Record<string, unknown>> } | undefined;
      if (!rule || (rule.chain !== 'input' && rule.chain !== 'output')) continue;
      const packets = rule.expr.map((x) => (x.counter as { packets?: number } | undefined)?.packets).find((p) => p !== undefined) ?? 0;
      const drops = rule.expr.some((x) => 'drop' in x);
      out[`${rule.chain}${drops ? 'Dropped' : 'Packets'}`] += packets;
    }
    return out;
  }

  /** Spawns `cmd args` inside the namespace (`ip netns exec`). The child is killed by dispose(). */
  spawn(cmd: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    this.live();
    const child = spawn('ip', ['netns', 'exec', this.ns, cmd, ...args], options);
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Runs `cmd args` inside the namespace to completion; rejects on a non-zero exit. */
  async exec(cmd: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
    this.live();
    return run('ip', ['netns', 'exec', this.ns, cmd, ...args], { timeout: CMD_TIMEOUT_MS });
  }

  /** Kills what runs in the namespace and removes the nft table, the veth pair and the namespace. Idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const exits = [...this.children].map((c) => new Promise<void>((r) => {
      if (c.exitCode !== null || c.signalCode !== null) return r();
      c.once('exit', () => r());
      c.kill('SIGKILL');
      setTimeout(r, 2000).unref();
    }));
    await Promise.all(exits);
    for (const args of this.teardown()) await run(args[0]!, args.slice(1), { timeout: CMD_TIMEOUT_MS }).catch(() => undefined);
    live.delete(this);
  }

  /** dispose() for a process that is exiting: synchronous, best effort. */
  disposeSync(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const args of this.teardown()) spawnSync(args[0]!, args.slice(1), { stdio: 'ignore', timeout: CMD_TIMEOUT_MS });
    live.delete(this);
  }

  /** The commands that remove what create() and addLoss() made, each harmless when it is gone already. */
  private teardown(): string[][] {
    const cmds: string[][] = [];
    if (this.lossTable) cmds.push(['ip', 'netns', 'exec', this.ns, 'nft', 'delete', 'table', 'inet', TABLE]);
    // Deleting one end of a veth deletes the pair, even while a process still holds the namespace.
    if (existsSync(`/sys/class/net/${this.hostIf}`)) cmds.push(['ip', 'link', 'del', this.hostIf]);
    if (existsSync(`/run/netns/${this.ns}`)) cmds.push(['ip', 'netns', 'del', this.ns]);
    return cmds;
  }

  private live(): void {
    if (this.disposed) throw new Error(`network lab ${this.ns} is disposed`);
  }

  private async nft(...args: string[]): Promise<void> {
    await run('ip', ['netns', 'exec', this.ns, 'nft', ...args], { timeout: CMD_TIMEOUT_MS });
  }
}

/** The veth names' stem: at most 14 characters ("skl" + pid in base 36 + "-" + counter), + h|n makes 15. */
function ifTag(pid: number, n: number): string {
  const tag = `skl${pid.toString(36)}-${n.toString(36)}`;
  if (tag.length > 14) throw new Error(`network lab: interface name ${tag} too long`);
  return tag;
}

async function ip(...args: string[]): Promise<void> {
  await run('ip', args, { timeout: CMD_TIMEOUT_MS });
}

/**
 * A /30 in 10.231.0.0/16 that no address of the root namespace is in (checked with `ip -o addr`),
 * starting from a spot derived from the pid so that parallel test files rarely meet.
 * Returns [host address (.1), namespace address (.2)].
 */
async function freeSlash30(n: number): Promise<[string, string]> {
  const { stdout } = await run('ip', ['-o', '-4', 'addr'], { timeout: CMD_TIMEOUT_MS });
  const used = new Set<number>();
  for (const m of stdout.matchAll(/inet (\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)/g)) {
    const [a, b, c, d, len] = m.slice(1).map(Number) as [number, number, number, number, number];
    if (a !== NET[0] || b !== NET[1]) {
      // An address range wider than /16 that covers all of 10.231/16: nothing there is ours to take.
      const addr = ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
      const mask = len === 0 ? 0 : (~0 << (32 - len)) >>> 0;
      const net = ((NET[0]! << 24) | (NET[1]! << 16)) >>> 0;
      if (len <= 16 && ((addr & mask) >>> 0) === ((net & mask) >>> 0)) throw new Error(`10.231.0.0/16 is in use here (${m[0]}): no lab address to take`);
      continue;
    }
    if (len >= 30) used.add(((c << 8) | d) >> 2);
    else {
      // A wider prefix inside 10.231/16: every /30 in it is taken.
      const first = ((c << 8) | d) & ~((1 << (32 - len)) - 1) & 0xffff;
      for (let k = first >> 2; k < (first + (1 << (32 - len))) >> 2; k++) used.add(k);
    }
  }
  const slots = 1 << 14; // /30s in a /16
  const start = ((process.pid * 37) + n * 7) % slots;
  for (let i = 0; i < slots; i++) {
    const k = (start + i) % slots;
    if (k === 0 || k === slots - 1 || used.has(k)) continue;
    const base = k << 2;
    const addr = (x: number) => `${NET[0]}.${NET[1]}.${(base + x) >> 8}.${(base + x) & 255}`;
    return [addr(1), addr(2)];
  }
  throw new Error('no free /30 in 10.231.0.0/16');
}

/**
 * Labs left by a test process that died without its exit hook (SIGKILL): namespaces named with
 * our prefix whose pid is gone. Only those are removed, with their veth and what still runs in them.
 */
function sweepDeadLabs(): void {
  let names: string[] = [];
  try {
    names = readdirSync('/run/netns');
  } catch {
    return;
  }
  for (const name of names) {
    const m = new RegExp(`^${PREFIX}(\\d+)-(\\d+)$`).exec(name);
    if (!m || Number(m[1]) === process.pid || pidAlive(Number(m[1]))) continue;
    // What the dead test left running in its namespace (an ffmpeg listener waits forever).
    const pids = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8', timeout: CMD_TIMEOUT_MS }).stdout ?? '';
    for (const pid of pids.split('\n').map(Number).filter((p) => Number.isInteger(p) && p > 1)) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
    const tag = ifTag(Number(m[1]), Number(m[2]));
    if (existsSync(`/sys/class/net/${tag}h`)) spawnSync('ip', ['link', 'del', `${tag}h`], { stdio: 'ignore', timeout: CMD_TIMEOUT_MS });
    spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore', timeout: CMD_TIMEOUT_MS });
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

let hooked = false;
/** On exit (a failed assertion, an uncaught error), and on SIGINT/SIGTERM, labs still up are removed. */
function installExitHook(): void {
  if (hooked) return;
  hooked = true;
  const cleanAll = () => { for (const lab of [...live]) lab.disposeSync(); };
  process.on('exit', cleanAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = () => {
      cleanAll();
      process.removeListener(sig, onSignal);
      // Only re-raise when nobody else handles the signal: then it kills us as it would have.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}
