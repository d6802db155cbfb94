// Processes for the benchmarks: CPU time of this process and of children, RSS, and
// child commands with a hard time limit. Child CPU comes from /usr/bin/time (the
// kernel's rusage of the finished child), so nothing is sampled or estimated.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** CPU seconds (user + system, all threads) this process has used so far. */
export function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** CPU seconds this process has used so far, split into user and system (kernel) time. */
export function cpuSplit(): { user: number; system: number } {
  const u = process.cpuUsage();
  return { user: u.user / 1e6, system: u.system / 1e6 };
}

/** The same for another process, from /proc (NaN once it is gone). */
export function procCpuSplit(pid: number): { user: number; system: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(f[11]) / CLOCK_TICKS, system: Number(f[12]) / CLOCK_TICKS };
  } catch {
    return { user: NaN, system: NaN };
  }
}

/** Resident set size of this process, bytes. */
export function rssBytes(): number {
  return process.memoryUsage.rss();
}

const CLOCK_TICKS = 100;

export interface TimedChild {
  child: ChildProcess;
  /** Resolves when the child exited: its CPU seconds and peak RSS as the kernel counted them. */
  done: Promise<TimedResult>;
}

export interface TimedResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  cpuS: number;
  maxRssKb: number;
  wallMs: number;
  stderr: string;
  timedOut: boolean;
}

/** Spawns `cmd args` under /usr/bin/time with a hard time limit. */
export function spawnTimed(
  cmd: string,
  args: string[],
  opts: { stdin?: 'pipe' | 'ignore'; stdout?: 'pipe' | 'ignore'; timeoutMs: number; env?: NodeJS.ProcessEnv },
): TimedChild {
  const dir = mkdtempSync(join(tmpdir(), 'skyline-bench-'));
  const timesFile = join(dir, 'times');
  const t0 = performance.now();
  const child = spawn('/usr/bin/time', ['-f', '%U %S %M', '-o', timesFile, cmd, ...args], {
    stdio: [opts.stdin ?? 'ignore', opts.stdout ?? 'ignore', 'pipe'],
    env: opts.env ?? process.env,
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    if (stderr.length < 100_000) stderr += d;
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, opts.timeoutMs);
  const done = new Promise<TimedResult>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const wallMs = performance.now() - t0;
      let cpuS = NaN, maxRssKb = NaN;
      try {
        const line = readFileSync(timesFile, 'utf8').trim().split('\n').pop() ?? '';
        const [u, s, m] = line.split(' ').map(Number);
        cpuS = u! + s!;
        maxRssKb = m!;
      } catch {
        // killed before time could write
      }
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, signal, cpuS, maxRssKb, wallMs, stderr, timedOut });
    });
  });
  return { child, done };
}

/** Output of a command (version strings). */
export function commandOutput(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d));
    c.stderr.on('data', (d: Buffer) => (out += d));
    const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
    c.on('close', () => {
      clearTimeout(t);
      resolve(out);
    });
    c.on('error', () => resolve(''));
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Seconds the threads of this process alive now have spent runnable but waiting for a core
 * (/proc/self/task/<tid>/schedstat, second field): what other processes on a shared machine
 * took from us. Read it before threads end (an ended thread's share is gone).
 */
export function waitSeconds(): number {
  let ns = 0;
  for (const t of readdirSync('/proc/self/task')) {
    try {
      ns += Number(readFileSync(`/proc/self/task/${t}/schedstat`, 'utf8').split(' ')[1]);
    } catch {
      // the thread ended
    }
  }
  return ns / 1e9;
}

/** CPU seconds of every thread of this process alive now, by thread id, with its name (/proc/self/task). */
export function threadCpuSeconds(): Map<number, { name: string; cpuS: number }> {
  const out = new Map<number, { name: string; cpuS: number }>();
  for (const t of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(t), { name: Number(t) === process.pid ? 'node (main thread)' : name, cpuS: (Number(f[11]) + Number(f[12])) / CLOCK_TICKS });
    } catch {
      // the thread ended
    }
  }
  return out;
}

/**
 * CPU per frame by thread name between two threadCpuSeconds() snapshots, busiest first (threads
 * of one name summed: GStreamer names a thread after the element that started it).
 */
export function threadsByName(before: Map<number, { name: string; cpuS: number }>, after: Map<number, { name: string; cpuS: number }>, frames: number): Array<{ name: string; threads: number; msPerFrame: number }> {
  const by = new Map<string, { threads: number; s: number }>();
  for (const [tid, t] of after) {
    const d = t.cpuS - (before.get(tid)?.cpuS ?? 0);
    const e = by.get(t.name) ?? { threads: 0, s: 0 };
    e.threads++;
    e.s += d;
    by.set(t.name, e);
  }
  return [...by].map(([name, e]) => ({ name, threads: e.threads, msPerFrame: (e.s * 1000) / frames })).filter((t) => t.msPerFrame >= 0.05).sort((a, b) => b.msPerFrame - a.msPerFrame);
}
