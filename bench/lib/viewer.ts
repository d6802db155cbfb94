// Decoding RTSP viewers for the latency figure: ffmpeg, or GStreamer's rtspsrc, reads the URL
// over TCP, decodes with one thread (frame threading would hold frames back), writes every
// frame to stdout as 8-bit grey at once, and this process reads the index band of each frame
// the moment it is complete.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { readIndex } from './frames.js';

export interface Viewer {
  child: ChildProcess;
  /** Resolves when the viewer exited. */
  done: Promise<{ code: number | null; stderr: string }>;
  stop(): void;
}

export const nowMs = () => performance.timeOrigin + performance.now();

export type ViewerKind = 'ffmpeg' | 'gstreamer';

/** The command line of a viewer that writes every decoded frame to stdout as 8-bit grey. */
export function viewerCommand(kind: ViewerKind, url: string): [string, string[]] {
  if (kind === 'gstreamer') {
    // latency=0: no jitterbuffer delay on loopback; one decoding thread, no sync.
    const launch = `rtspsrc location=${url} protocols=tcp latency=0 ! rtph264depay ! avdec_h264 max-threads=1 ! videoconvert ! video/x-raw,format=GRAY8 ! fdsink fd=1 sync=false`;
    return ['gst-launch-1.0', ['-q', ...launch.split(' ')]];
  }
  return ['ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-rtsp_transport', 'tcp', '-fflags', 'nobuffer', '-flags', 'low_delay', '-threads', '1',
    '-i', url,
    // passthrough: no frame duplicated or dropped to make a constant rate (a duplicate would
    // carry an old index and count as a late frame).
    '-an', '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'gray', '-flush_packets', '1', 'pipe:1',
  ]];
}

export function startViewer(url: string, width: number, height: number, onFrame: (index: number, receivedMs: number) => void, kind: ViewerKind = 'ffmpeg'): Viewer {
  const [cmd, args] = viewerCommand(kind, url);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const frameBytes = width * height;
  // Only the index band (the top rows) is kept; the rest of each frame is counted and skipped.
  const bandBytes = Math.floor(width / 16) * width;
  const band = Buffer.alloc(bandBytes);
  let pos = 0;
  child.stdout!.on('data', (chunk: Buffer) => {
    let off = 0;
    while (off < chunk.length) {
      const take = Math.min(chunk.length - off, frameBytes - pos);
      if (pos < bandBytes) chunk.copy(band, pos, off, off + Math.min(take, bandBytes - pos));
      pos += take;
      off += take;
      if (pos === frameBytes) {
        onFrame(readIndex(band, width), nowMs());
        pos = 0;
      }
    }
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    if (stderr.length < 20_000) stderr += d;
  });
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stderr })));
  // SIGKILL: ffmpeg writing to a pipe does not always end on SIGTERM, and nothing a viewer
  // would still flush matters here.
  return { child, done, stop: () => child.kill('SIGKILL') };
}

/**
 * The same viewer, read in a process of its own (bench/peers/index-reader.ts), which reports
 * each frame's index and the epoch time it was complete: the caller's event loop only gets one
 * short line per frame.
 */
export function startViewerApart(url: string, width: number, height: number, onFrame: (index: number, receivedMs: number) => void, kind: ViewerKind = 'ffmpeg'): Viewer {
  const script = fileURLToPath(new URL('../peers/index-reader.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, kind, url, String(width), String(height)], { stdio: ['pipe', 'pipe', 'pipe'] });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const [tag, index, at] = line.split(' ');
    if (tag === 'F') onFrame(Number(index), Number(at));
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    if (stderr.length < 20_000) stderr += d;
  });
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stderr })));
  // Closing its stdin stops the viewer; the kill is the bound if it does not go.
  const stop = () => {
    child.stdin!.end();
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  };
  return { child, done, stop };
}
