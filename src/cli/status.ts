// What the command says while it runs: on a terminal, event lines plus one live status line
// redrawn in place and cut to the terminal's width; otherwise one JSON object per line.

export interface Status {
  state: string;
  /** Frames per second encoded over the last interval. */
  fps: number;
  /** Output bit rate over the last interval, kbit/s. */
  kbps: number;
  frames: number;
  /** RTSP or browser viewers (undefined where there are none, e.g. files). */
  viewers?: number;
  drops: number;
  reconnects: number;
  /** Capture-to-output latency, ms, where it is known. */
  latencyMs?: number;
}

/** The status fields as text, most important first. */
function fields(s: Status): string[] {
  const out = [`${s.fps.toFixed(1)} fps`, `${Math.round(s.kbps)} kbit/s`];
  if (s.viewers !== undefined) out.push(`${s.viewers} viewer${s.viewers === 1 ? '' : 's'}`);
  out.push(`${s.drops} dropped`, `${s.reconnects} reconnects`);
  if (s.latencyMs !== undefined) out.push(`latency ${Math.round(s.latencyMs)} ms`);
  out.push(`${s.frames} frames`, s.state);
  return out;
}

/**
 * One status line no wider than `columns`: fields are dropped from the least important end,
 * and a single field that is still too wide is cut.
 */
export function statusLine(s: Status, columns: number): string {
  const width = Math.max(1, columns - 1); // the last column would wrap on some terminals
  const f = fields(s);
  while (f.length > 1 && f.join(' | ').length > width) f.pop();
  return f.join(' | ').slice(0, width);
}

export interface Output {
  write(text: string): boolean;
  isTTY?: boolean;
  columns?: number;
}

export class Reporter {
  private lineShown = false;

  constructor(private readonly out: Output, private readonly json: boolean) {}

  static for(out: Output, forceJson: boolean): Reporter {
    return new Reporter(out, forceJson || out.isTTY !== true);
  }

  get isJson(): boolean {
    return this.json;
  }

  /** Something happened: `started`, `reconnect`, `error`, `stopped`... */
  event(name: string, text: string, data: Record<string, unknown> = {}): void {
    if (this.json) {
      this.out.write(`${JSON.stringify({ event: name, time: new Date().toISOString(), ...data, message: text })}\n`);
      return;
    }
    this.clear();
    this.out.write(`${text}\n`);
  }

  status(s: Status): void {
    if (this.json) {
      this.out.write(`${JSON.stringify({ event: 'status', time: new Date().toISOString(), ...s, fps: round1(s.fps), kbps: Math.round(s.kbps) })}\n`);
      return;
    }
    this.out.write(`\r${statusLine(s, this.out.columns ?? 80)}\x1b[K`);
    this.lineShown = true;
  }

  /** Removes the status line so the terminal is left clean. */
  clear(): void {
    if (this.lineShown) this.out.write('\r\x1b[K');
    this.lineShown = false;
  }
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
