// A child process for tests of runnable programs (examples, the CLI): its output as it
// arrives, bounded waits for a line, and a hard kill at the end of its time budget.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export class Running {
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;
  private readonly waiters = new Set<() => void>();

  constructor(readonly child: ChildProcess, timeoutMs: number) {
    child.stdout!.on('data', (d: Buffer) => {
      this.stdout += d;
      for (const w of this.waiters) w();
    });
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr += d;
      for (const w of this.waiters) w();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    this.exited = new Promise((done) => {
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        for (const w of this.waiters) w();
        done({ code, signal, stdout: this.stdout, stderr: this.stderr });
      });
    });
  }

  /** Resolves with the first match of `re` in stdout (or stderr with `stream`), failing clearly after timeoutMs or on exit. */
  waitFor(re: RegExp, timeoutMs = 20_000, stream: 'stdout' | 'stderr' = 'stdout'): Promise<RegExpExecArray> {
    return new Promise((ok, fail) => {
      let exited = false;
      void this.exited.then(() => {
        exited = true;
        check();
      });
      const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${re} in ${stream}:\n${this.stdout}\n${this.stderr}`)), timeoutMs);
      const check = (): void => {
        const m = re.exec(this[stream]);
        if (m) finish(undefined, m);
        else if (exited) finish(new Error(`exited without printing ${re}:\n${this.stdout}\n${this.stderr}`));
      };
      const finish = (err?: Error, m?: RegExpExecArray): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (err) fail(err);
        else ok(m!);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Sends SIGINT (Ctrl-C) and waits for the exit. */
  async interrupt(): Promise<Exit> {
    this.child.kill('SIGINT');
    return this.exited;
  }
}

/** Starts `node [--import tsx] <script> ...args` from the project root. */
export function runNode(script: string, args: string[], env: Record<string, string | undefined> = {}, opts: { tsx?: boolean; timeoutMs?: number; cwd?: string } = {}): Running {
  const child = spawn(process.execPath, [...(opts.tsx === false ? [] : ['--import', 'tsx']), script, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, SKYLINE_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Running(child, opts.timeoutMs ?? 120_000);
}
