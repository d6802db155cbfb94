// A helper process that answers one line per command on stdin (bench/peers/*.ts): started once
// per figure, so its start-up is never inside a measured window, and its CPU readable from /proc.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface Peer {
  readonly pid: number;
  /** The first line the peer printed ("ready …"). */
  readonly hello: string;
  /** Sends a command; resolves with the next line the peer prints. */
  ask(command: string, timeoutMs?: number): Promise<string>;
  /** Waits for the next line without sending anything. */
  next(timeoutMs?: number): Promise<string>;
  send(command: string): void;
  kill(): void;
}

export async function startPeer(command: string, args: string[], helloTimeoutMs = 60_000): Promise<Peer> {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] }) as ChildProcessWithoutNullStreams;
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 20_000) stderr += d;
  });
  const lines: string[] = [];
  const waiting: Array<(l: string) => void> = [];
  let exited = false;
  createInterface({ input: child.stdout }).on('line', (l) => {
    const w = waiting.shift();
    if (w) w(l);
    else lines.push(l);
  });
  child.on('close', () => {
    exited = true;
    for (const w of waiting.splice(0)) w(`error peer exited: ${stderr.slice(-1500)}`);
  });
  const next = (timeoutMs = 30_000) =>
    new Promise<string>((resolve, reject) => {
      const l = lines.shift();
      if (l !== undefined) return resolve(l);
      if (exited) return reject(new Error(`${args.join(' ')} exited: ${stderr.slice(-1500)}`));
      const timer = setTimeout(() => {
        const i = waiting.indexOf(done);
        if (i >= 0) waiting.splice(i, 1);
        reject(new Error(`${args.join(' ')} did not answer within ${timeoutMs} ms: ${stderr.slice(-1500)}`));
      }, timeoutMs);
      const done = (line: string) => {
        clearTimeout(timer);
        resolve(line);
      };
      waiting.push(done);
    });
  const hello = await next(helloTimeoutMs);
  if (hello.startsWith('error')) throw new Error(`${args.join(' ')}: ${hello}`);
  return {
    pid: child.pid!,
    hello,
    next,
    send: (c) => child.stdin.write(`${c}\n`),
    ask(c, timeoutMs) {
      child.stdin.write(`${c}\n`);
      return next(timeoutMs);
    },
    kill: () => child.kill('SIGKILL'),
  };
}
