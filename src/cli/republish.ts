// rtsp | web | push | record | kvs: frames from a source, an optional overlay, put() into a
// SkyLine, a status line every second, until --duration, Ctrl-C or a failure.
import type { Logger } from 'pino';
import { numberOption, sizeOption, type Parsed } from './args.js';
import { openDestination, type Destination } from './destinations.js';
import { Overlay } from './overlay.js';
import { openSource, type FrameSource } from './sources.js';
import type { Reporter } from './status.js';

export interface RunContext {
  parsed: Parsed;
  reporter: Reporter;
  logger: Logger;
  /** Aborted by Ctrl-C / SIGTERM. */
  signal: AbortSignal;
}

/** Resolves with the exit code. */
export async function republish(ctx: RunContext): Promise<number> {
  const { parsed, reporter, logger, signal } = ctx;
  const v = parsed.values;
  const { width, height } = sizeOption(v, parsed.command);
  const fps = numberOption(v, 'fps', 30, parsed.command, { min: 0.1 });
  const bitrate = numberOption(v, 'bitrate', 2000, parsed.command, { integer: true, min: 16 });
  const duration = v.duration === undefined ? Infinity : numberOption(v, 'duration', 0, parsed.command);
  const from = String(v.from);
  // Options are all checked before anything starts, so a usage error never leaves a server behind.
  const dest: Destination = openDestination({ parsed, logger, bitrate, fps: from === 'pattern' ? fps : undefined });
  const sky = dest.sky;

  let source: FrameSource | undefined;
  let failure: Error | undefined;
  let reconnects = 0;
  let lastError: Error | undefined;
  const stopAll = (): void => source?.stop();
  signal.addEventListener('abort', stopAll, { once: true });
  sky.on('error', (err) => {
    lastError = err;
    reporter.event('error', `error: ${err.message}`, { error: err.message });
  });
  sky.on('reconnect', ({ attempt, delayMs, reason }) => {
    reconnects++;
    reporter.event('reconnect', `reconnecting (attempt ${attempt}) in ${delayMs} ms: ${reason}`, { attempt, delayMs, reason });
  });
  // Announced once video flows: a source of unknown rate first goes through the warmup that measures it.
  let announced = false;
  const announce = (): void => {
    if (announced || !source) return;
    announced = true;
    reporter.event('started', `streaming ${source.label} to ${dest.where()}`, { source: source.label, destination: dest.where() });
    if (!reporter.isJson && parsed.command === 'rtsp') reporter.event('hint', `watch: ffplay -rtsp_transport tcp ${dest.where()}`);
    if (dest.secretLink) reporter.event('token', `open ${dest.secretLink()} in a browser (the token is shown this once)`, {});
    else if (!reporter.isJson && parsed.command === 'web') reporter.event('hint', `open ${dest.where()} in a browser`);
  };
  sky.on('state', (state) => {
    if (state === 'streaming') announce();
    if (state !== 'error') return;
    // A destination that reconnects announces it right after entering 'error'; one that does not has failed.
    const before = reconnects;
    setImmediate(() => {
      if (reconnects === before && sky.state === 'error' && !failure) {
        failure = lastError ?? new Error('the destination failed');
        stopAll();
      }
    });
  });

  try {
    source = await openSource(from, {
      width,
      height,
      fps,
      logger,
      onEvent: (name, text, data) => {
        if (name === 'reconnect') reconnects++;
        reporter.event(name, text, data);
      },
    });
    if (signal.aborted) source.stop();
    await sky.startStreaming(source.shape ? { ...source.shape } : { fps: null, width: null, height: null });
    if (sky.state === 'streaming') announce();
    else reporter.event('warmup', `reading ${source.label}; measuring its frame rate`, { source: source.label });

    const overlay = v.overlay === true ? new Overlay() : undefined;
    const status = startStatus(ctx, dest, () => reconnects);
    const until = Number.isFinite(duration) ? setTimeout(stopAll, duration * 1000) : undefined;
    // A live source's capture times come from the camera: their age at put() is its latency.
    const live = source.shape === undefined;
    let index = 0;
    try {
      for await (const frame of source) {
        overlay?.draw(frame, index, frame.timestamp);
        sky.put(frame, { timestamp: frame.timestamp });
        if (live) status.latency(Date.now() - frame.timestamp);
        index++;
      }
    } finally {
      clearTimeout(until);
      status.stop();
    }
    const stats = sky.stats();
    await sky.stopStreaming();
    const after = sky.stats();
    if (failure) throw failure;
    reporter.event('stopped', `stopped: ${after.framesEncoded} frames encoded, ${after.framesDropped} dropped, to ${dest.where()}`, {
      framesAccepted: stats.framesAccepted,
      framesEncoded: after.framesEncoded,
      framesDropped: after.framesDropped,
      bytesOut: after.bytesOut,
      destination: dest.where(),
    });
    return 0;
  } catch (err) {
    reporter.event('failed', `failed: ${(err as Error).message}`, { error: (err as Error).message });
    return 1;
  } finally {
    signal.removeEventListener('abort', stopAll);
    await source?.close();
    await sky.close();
  }
}

function startStatus(ctx: RunContext, dest: Destination, reconnects: () => number): { latency(ms: number): void; stop(): void } {
  const sky = dest.sky;
  let lastFrames = sky.stats().framesEncoded;
  let lastBytes = sky.stats().bytesOut;
  let lastAt = performance.now();
  let sourceLatencyMs: number | undefined;
  const timer = setInterval(() => {
    const s = sky.stats();
    const now = performance.now();
    const secs = Math.max(0.001, (now - lastAt) / 1000);
    const latency = dest.latencyMs?.() ?? sourceLatencyMs;
    ctx.reporter.status({
      state: s.state,
      fps: (s.framesEncoded - lastFrames) / secs,
      kbps: ((s.bytesOut - lastBytes) * 8) / 1000 / secs,
      frames: s.framesEncoded,
      viewers: dest.viewers?.(),
      drops: s.framesDropped,
      reconnects: reconnects(),
      latencyMs: latency,
    });
    lastFrames = s.framesEncoded;
    lastBytes = s.bytesOut;
    lastAt = now;
  }, 1000);
  return {
    latency: (ms) => {
      sourceLatencyMs = Math.max(0, ms);
    },
    stop: () => {
      clearInterval(timer);
      ctx.reporter.clear();
    },
  };
}
