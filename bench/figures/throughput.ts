// Figure 2: sustained 1080p encoding throughput, frames per second and CPU seconds per
// frame, for (a) FileSkyLine fed through putAsync (no frame dropped), (b) the very same
// GStreamer pipeline run by gst-launch-1.0 from a raw file (our floor), and (c) Node
// piping raw frames into ffmpeg's stdin with libx264 (vidgear WriteGear, ataraxis).
// Contenders alternate a, b, c, a, b, c, ... and the median run of each is reported.
import { readdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { RgbToI420 } from '../../src/convert/rgb-to-i420.js';
import { layoutOf } from '../../src/frame.js';
import { FileSkyLine } from '../../src/index.js';
import { Pipeline } from '../../src/gst/pipeline.js';
import { CONFIG, ENCODER, workDir, skylineOptions, pipelineOf } from '../lib/config.js';
import { noisyFrames } from '../lib/frames.js';
import { countFrames } from '../lib/probe.js';
import { cpuSeconds, spawnTimed } from '../lib/proc.js';
import { median } from '../lib/stats.js';

const W = 1920, H = 1080, FPS = 30, DISTINCT = 16;

/**
 * malloc settings for the external tools: without them glibc gives a freed 6 MB frame back
 * to the kernel and faults it in again for the next one, which costs gst-launch more CPU in
 * page faults (in a VM) than videoconvert costs. Node's process does not hit this (measured:
 * under 0.6 ms/frame of system time), so the tools get it switched off to be a fair floor.
 */
const TOOL_ENV = { ...process.env, GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=1073741824:glibc.malloc.mmap_threshold=33554432' };

export interface Run {
  fps: number;
  cpuPerFrameMs: number;
  frames: number;
  framesInFile: number;
  wallS: number;
  cpuS: number;
}

export interface Contender {
  key: 'a' | 'b' | 'c' | "a'" | 'x';
  name: string;
  runs: Run[];
  /** The run with the median fps. */
  median: Run;
}

export interface ThreadCpu {
  name: string;
  tid: number;
  msPerFrame: number;
}

/** CPU of one stage alone, from files, by each toolkit (where the time goes). */
export interface Stage {
  stage: string;
  tool: string;
  msPerFrame: number;
  command: string;
}

export interface ThroughputResult {
  width: number;
  height: number;
  frames: number;
  contenders: Contender[];
  /** The gst-launch description of (b), as run. */
  gstLaunch: string;
  ffmpegArgs: string[];
  ratios: {
    aOverB: number; aOverC: number; cpuAOverB: number; cpuAOverC: number; cpuAOverX?: number; aOverLimit?: number;
    /** Median over repetitions of a's CPU per frame over x's, a and x run back to back (order alternating). */
    cpuAOverXPaired?: number;
    /** x264 alone against the same limit: how busy the encoder keeps the cores by itself. */
    xOverLimit?: number;
  };
  /** The x264enc fragment every run of (a) and (x) used. */
  encoder?: string;
  /** Copies of a frame's bytes between put() and the encoder, in (a). */
  copies?: string[];
  /** Per-thread CPU of (a)'s last run, busiest first. */
  threads: ThreadCpu[];
  /** (a)'s last run: ms per frame its threads were runnable but waiting for a core (the machine is shared). */
  waitMsPerFrame?: number;
  /** Load average when the figure started. */
  loadAverage?: number;
  stages: Stage[];
}

/** CPU seconds of every thread of this process, from /proc. */
function threadCpu(): Map<number, { name: string; cpuS: number; waitS: number }> {
  const out = new Map<number, { name: string; cpuS: number; waitS: number }>();
  for (const t of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // schedstat: ns on a CPU, ns runnable but waiting for one (other processes had it).
      const wait = Number(readFileSync(`/proc/self/task/${t}/schedstat`, 'utf8').split(' ')[1]) / 1e9;
      out.set(Number(t), { name, cpuS: (Number(f[11]) + Number(f[12])) / 100, waitS: wait });
    } catch {
      // the thread ended
    }
  }
  return out;
}

function row(frames: number, framesInFile: number, wallMs: number, cpuS: number): Run {
  return { fps: (frames * 1000) / wallMs, cpuPerFrameMs: (cpuS * 1000) / frames, frames, framesInFile, wallS: wallMs / 1000, cpuS };
}

/** (a) FileSkyLine, fed as fast as putAsync accepts. */
async function runSkyLine(frames: Buffer[], n: number, out: string, format: 'BGR' | 'I420' = 'BGR'): Promise<{ run: Run; description: string; threads: ThreadCpu[]; waitMsPerFrame: number }> {
  const sky = new FileSkyLine({
    path: out,
    timestamps: false,
    ...skylineOptions(),
  });
  await sky.startStreaming({ fps: FPS, width: W, height: H });
  // The pipeline the base class built, to hand the identical one to gst-launch.
  const description = pipelineOf(sky);
  const before = threadCpu();
  const c0 = cpuSeconds();
  const t0 = performance.now();
  const origin = Date.now();
  for (let i = 0; i < n; i++) {
    await sky.putAsync({ data: frames[i % frames.length]!, width: W, height: H, format }, { timestamp: origin + (i * 1000) / FPS });
  }
  // Threads are read before stopping: the encoder's threads end with the session.
  const after = threadCpu();
  await sky.stopStreaming();
  const wall = performance.now() - t0;
  const cpu = cpuSeconds() - c0;
  const dropped = sky.stats().framesDropped;
  await sky.close();
  if (dropped > 0) throw new Error(`FileSkyLine dropped ${dropped} frames under putAsync`);
  const threads = [...after]
    .map(([tid, t]) => ({ name: tid === process.pid ? 'node (main thread)' : t.name, tid, msPerFrame: ((t.cpuS - (before.get(tid)?.cpuS ?? 0)) * 1000) / n }))
    .filter((t) => t.msPerFrame >= 0.05)
    .sort((x, y) => y.msPerFrame - x.msPerFrame);
  let wait = 0;
  for (const [tid, t] of after) wait += t.waitS - (before.get(tid)?.waitS ?? 0);
  return { run: row(n, await countFrames(out), wall, cpu), description, threads, waitMsPerFrame: (wait * 1000) / n };
}

/**
 * (x) the floor: x264 alone, fed I420 frames held in memory through appsrc into x264enc with
 * (a)'s very fragment, into fakesink. Nothing converts, muxes or writes; the only other work
 * is the binding's copy of each pushed frame (about 0.2 ms of a 1080p frame).
 */
async function runX264Alone(i420: Buffer[], n: number, encoder: string): Promise<Run> {
  const caps = `video/x-raw,format=I420,width=${W},height=${H},framerate=${FPS}/1,pixel-aspect-ratio=1/1`;
  const p = new Pipeline(`appsrc name=src is-live=true format=time do-timestamp=false block=false max-buffers=8 caps=${caps} ! ${encoder} ! fakesink sync=false`);
  const src = p.appsrc('src');
  const eos = new Promise<void>((resolve, reject) => p.play({ onStarted: () => undefined, onEos: resolve, onError: reject }));
  const c0 = cpuSeconds();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    // As the drain does: at most two frames waiting inside appsrc.
    while (src.level() >= 2) await new Promise((r) => setTimeout(r, 1));
    src.push(i420[i % i420.length]!, Math.round((i * 1e9) / FPS));
  }
  p.sendEos();
  await eos;
  const wall = performance.now() - t0;
  const cpu = cpuSeconds() - c0;
  p.stop();
  return row(n, n, wall, cpu);
}

/** The SkyLine's own encoder description with appsrc replaced by raw files, one frame per file, and the file muxer at its end. */
function gstLaunchFrom(description: string, rawPattern: string, n: number, out: string): string {
  const parts = description.split(' ! ');
  if (!parts[0]!.startsWith('appsrc')) throw new Error(`unexpected pipeline head: ${parts[0]}`);
  // One buffer per frame, as appsrc gets them (a many-frame buffer would cost page faults
  // that appsrc does not pay); rawvideoparse stamps PTS at the frame rate.
  parts[0] = `multifilesrc location=${rawPattern} loop=true num-buffers=${n} ! rawvideoparse format=bgr width=${W} height=${H} framerate=${FPS}/1`;
  // The SkyLine's encoder ends in the tap back into Node, and its FileDestination muxes in a
  // pipeline of its own: the floor is the encoder straight into the same muxer and file.
  const tap = parts.findIndex((p) => p.startsWith('rtph264pay'));
  if (tap < 0) throw new Error(`unexpected pipeline tail: ${parts.slice(-3).join(' ! ')}`);
  parts.splice(tap - 1, parts.length, 'video/x-h264,stream-format=avc,alignment=au', 'mp4mux fragment-duration=1000 streamable=true', `filesink location=${out}`);
  return parts.join(' ! ');
}

async function runGstLaunch(launch: string, n: number, out: string): Promise<Run> {
  const t = spawnTimed('gst-launch-1.0', ['-q', '-e', ...launch.split(' ')], { timeoutMs: 600_000, env: TOOL_ENV });
  const r = await t.done;
  if (r.code !== 0) throw new Error(`gst-launch failed (${r.code ?? r.signal}): ${r.stderr.slice(0, 2000)}`);
  return row(n, await countFrames(out), r.wallMs, r.cpuS);
}

function ffmpegArgs(out: string): string[] {
  return [
    '-hide_banner', '-loglevel', 'error', '-nostats', '-y',
    '-f', 'rawvideo', '-pix_fmt', 'bgr24', '-s', `${W}x${H}`, '-r', String(FPS), '-i', 'pipe:0',
    '-c:v', 'libx264', '-preset', ENCODER.preset, '-tune', ENCODER.tune,
    // maxrate/bufsize: the same CBR with a 600 ms VBV buffer that x264enc uses by default.
    '-b:v', `${ENCODER.bitrateKbps}k`, '-maxrate', `${ENCODER.bitrateKbps}k`, '-bufsize', `${(ENCODER.bitrateKbps * 0.6).toFixed(0)}k`,
    '-g', String(ENCODER.keyframeInterval), '-bf', '0', '-pix_fmt', 'yuv420p',
    '-movflags', 'frag_keyframe+empty_moov', '-f', 'mp4', out,
  ];
}

/** (c) Node writes raw BGR into ffmpeg's stdin, respecting backpressure. */
async function runFfmpeg(frames: Buffer[], n: number, out: string): Promise<Run> {
  const c0 = cpuSeconds();
  const t = spawnTimed('ffmpeg', ffmpegArgs(out), { stdin: 'pipe', timeoutMs: 600_000, env: TOOL_ENV });
  const stdin = t.child.stdin!;
  let failed: Error | undefined;
  stdin.on('error', (e) => (failed = e));
  for (let i = 0; i < n && !failed; i++) {
    if (!stdin.write(frames[i % frames.length]!)) {
      await new Promise<void>((r) => {
        const done = () => {
          stdin.off('drain', done);
          t.child.off('close', done);
          r();
        };
        stdin.once('drain', done);
        t.child.once('close', done);
      });
    }
  }
  stdin.end();
  const r = await t.done;
  const nodeCpu = cpuSeconds() - c0;
  if (r.code !== 0 || failed) throw new Error(`ffmpeg failed (${r.code ?? r.signal}): ${failed?.message ?? ''} ${r.stderr.slice(0, 2000)}`);
  return row(n, await countFrames(out), r.wallMs, r.cpuS + nodeCpu);
}

/** The frames converted to I420 by ffmpeg (for the a' row), one Buffer each. */
async function toI420(bgrAll: string, dir: string): Promise<Buffer[]> {
  const out = join(dir, 'frames-1080p-a2.i420');
  const r = await spawnTimed('ffmpeg', ['-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'bgr24', '-s', `${W}x${H}`, '-i', bgrAll, '-pix_fmt', 'yuv420p', '-f', 'rawvideo', out], { timeoutMs: 60_000 }).done;
  if (r.code !== 0) throw new Error(`ffmpeg could not convert the frames: ${r.stderr}`);
  const all = readFileSync(out);
  rmSync(out, { force: true });
  const size = (W * H * 3) / 2;
  return Array.from({ length: DISTINCT }, (_, i) => Buffer.from(all.subarray(i * size, (i + 1) * size)));
}

/** The library's own converter (what (a)'s drain runs), CPU per frame on this thread. */
function ourConverter(frames: Buffer[], n: number): Stage {
  const conv = RgbToI420.for(layoutOf('BGR', W, H));
  if (!conv) return { stage: 'BGR → I420 conversion', tool: 'gst-skyline RgbToI420 (not available here)', msPerFrame: NaN, command: '' };
  for (let i = 0; i < 16; i++) conv.convert(frames[i % frames.length]!);
  const c0 = cpuSeconds();
  for (let i = 0; i < n; i++) conv.convert(frames[i % frames.length]!);
  return { stage: 'BGR → I420 conversion', tool: 'gst-skyline RgbToI420 (WebAssembly SIMD)', msPerFrame: ((cpuSeconds() - c0) * 1000) / n, command: 'RgbToI420.convert()' };
}

/** Runs a command on files and returns its CPU per frame. */
async function stageCost(stage: string, tool: string, cmd: string, args: string[], n: number): Promise<Stage> {
  const r = await spawnTimed(cmd, args, { timeoutMs: 300_000, env: TOOL_ENV }).done;
  if (r.code !== 0) throw new Error(`${cmd} failed (${r.code ?? r.signal}): ${r.stderr.slice(0, 2000)}`);
  return { stage, tool, msPerFrame: (r.cpuS * 1000) / n, command: `${cmd} ${args.join(' ')}` };
}

/** Conversion alone and encoding alone, in GStreamer and in ffmpeg, on the same frames. */
async function stages(rawPattern: string, bgrAll: string, dir: string, n: number): Promise<Stage[]> {
  const i420Pattern = join(dir, 'frame1080-%02d.i420');
  const i420All = join(dir, 'frames-1080p.i420');
  const src = `multifilesrc location=${rawPattern} loop=true num-buffers=${n} ! rawvideoparse format=bgr width=${W} height=${H} framerate=${FPS}/1`;
  const convert = 'videoconvert n-threads=0 dither=none ! video/x-raw,format=I420';
  const x264 = `x264enc tune=zerolatency speed-preset=${ENCODER.preset} bitrate=${ENCODER.bitrateKbps} key-int-max=${ENCODER.keyframeInterval} bframes=0`;
  const loops = String(Math.round(n / DISTINCT) - 1);
  // I420 copies of the frames for the encode-only runs: one file per frame for GStreamer,
  // all in one for ffmpeg (which reads a frame at a time either way).
  const prep = `multifilesrc location=${rawPattern} loop=true num-buffers=${DISTINCT} ! rawvideoparse format=bgr width=${W} height=${H} framerate=${FPS}/1 ! ${convert}`;
  await stageCost('prep', 'gst', 'gst-launch-1.0', ['-q', ...`${prep} ! multifilesink location=${i420Pattern}`.split(' ')], DISTINCT);
  await stageCost('prep', 'gst', 'gst-launch-1.0', ['-q', ...`${prep} ! filesink location=${i420All}`.split(' ')], DISTINCT);
  const i420src = `multifilesrc location=${i420Pattern} loop=true num-buffers=${n} ! rawvideoparse format=i420 width=${W} height=${H} framerate=${FPS}/1`;
  const ffRate = (pix: string, file: string) => ['-v', 'error', '-f', 'rawvideo', '-pix_fmt', pix, '-s', `${W}x${H}`, '-r', String(FPS), '-stream_loop', loops, '-i', file];
  const out = [
    await stageCost('read raw BGR frames (included in the rows below)', 'GStreamer multifilesrc', 'gst-launch-1.0', ['-q', ...`${src} ! fakesink`.split(' ')], n),
    await stageCost('BGR → I420 conversion', 'GStreamer videoconvert', 'gst-launch-1.0', ['-q', ...`${src} ! ${convert} ! fakesink`.split(' ')], n),
    await stageCost('BGR → I420 conversion', 'ffmpeg swscale', 'ffmpeg', [...ffRate('bgr24', bgrAll), '-pix_fmt', 'yuv420p', '-f', 'null', '-'], n),
    await stageCost('H.264 encode from I420', 'GStreamer x264enc', 'gst-launch-1.0', ['-q', ...`${i420src} ! ${x264} ! fakesink`.split(' ')], n),
    await stageCost('H.264 encode from I420', 'ffmpeg libx264', 'ffmpeg', [
      ...ffRate('yuv420p', i420All), '-c:v', 'libx264', '-preset', ENCODER.preset, '-tune', ENCODER.tune,
      '-b:v', `${ENCODER.bitrateKbps}k`, '-maxrate', `${ENCODER.bitrateKbps}k`, '-bufsize', `${(ENCODER.bitrateKbps * 0.6).toFixed(0)}k`,
      '-g', String(ENCODER.keyframeInterval), '-bf', '0', '-f', 'null', '-',
    ], n),
  ];
  for (let i = 0; i < DISTINCT; i++) rmSync(join(dir, `frame1080-${String(i).padStart(2, '0')}.i420`), { force: true });
  rmSync(i420All, { force: true });
  return out;
}

export default async function throughput(): Promise<ThroughputResult> {
  const dir = workDir();
  const reps = Math.max(1, Math.round(CONFIG.throughputFrames / DISTINCT));
  const n = reps * DISTINCT;
  const frames = noisyFrames(W, H, DISTINCT);
  const files = frames.map((f, i) => {
    const p = join(dir, `frame1080-${String(i).padStart(2, '0')}.bgr`);
    writeFileSync(p, f);
    return p;
  });
  const rawPattern = join(dir, 'frame1080-%02d.bgr');
  const bgrAll = join(dir, 'frames-1080p.bgr');
  writeFileSync(bgrAll, Buffer.concat(frames));
  const runs: Record<'a' | 'b' | 'c' | "a'" | 'x', Run[]> = { a: [], b: [], c: [], "a'": [], x: [] };
  // (a') the same frames already in I420: what the pipeline does when conversion costs nothing.
  const i420 = await toI420(bgrAll, dir);
  let launch = '';
  let threads: ThreadCpu[] = [];
  let encoder = '';
  let waitMsPerFrame = NaN;
  const loadAverage = loadavg()[0]!;
  for (let k = 0; k < CONFIG.throughputRepeats; k++) {
    // a and x back to back, first one then the other: this machine's speed drifts over tens of
    // seconds, and the CPU target is their ratio.
    if (k % 2 === 1) runs.x.push(await runX264Alone(i420, n, encoder));
    const a = await runSkyLine(frames, n, join(dir, 'tp-a.mp4'));
    runs.a.push(a.run);
    encoder = a.description.split(' ! ').find((part) => part.startsWith('x264enc')) ?? '';
    if (k % 2 === 0) runs.x.push(await runX264Alone(i420, n, encoder));
    threads = a.threads;
    waitMsPerFrame = a.waitMsPerFrame;
    launch = gstLaunchFrom(a.description, rawPattern, n, join(dir, 'tp-b.mp4'));
    runs.b.push(await runGstLaunch(launch, n, join(dir, 'tp-b.mp4')));
    runs.c.push(await runFfmpeg(frames, n, join(dir, 'tp-c.mp4')));
    runs["a'"].push((await runSkyLine(i420, n, join(dir, 'tp-a2.mp4'), 'I420')).run);
  }
  const stageRows = await stages(rawPattern, bgrAll, dir, Math.min(n, 320));
  stageRows.splice(3, 0, ourConverter(frames, Math.min(n, 320)));
  for (const f of [...files, bgrAll]) rmSync(f, { force: true });
  const pick = (rs: Run[]) => {
    const m = median(rs.map((r) => r.fps));
    return rs.find((r) => r.fps === m)!;
  };
  const contenders: Contender[] = [
    { key: 'a', name: 'FileSkyLine (putAsync)', runs: runs.a, median: pick(runs.a) },
    { key: 'b', name: 'gst-launch-1.0, same pipeline, raw files', runs: runs.b, median: pick(runs.b) },
    { key: 'c', name: 'Node → ffmpeg stdin (libx264)', runs: runs.c, median: pick(runs.c) },
    { key: "a'", name: 'FileSkyLine (putAsync), frames given as I420', runs: runs["a'"], median: pick(runs["a'"]) },
    { key: 'x', name: 'x264 alone: I420 frames in memory → x264enc → fakesink (the floor)', runs: runs.x, median: pick(runs.x) },
  ];
  const x = contenders[4]!.median;
  const [a, b, c] = contenders.map((x) => x.median) as [Run, Run, Run];
  return {
    width: W, height: H, frames: n, contenders, gstLaunch: launch, ffmpegArgs: ffmpegArgs('out.mp4'),
    ratios: {
      aOverB: a.fps / b.fps,
      aOverC: a.fps / c.fps,
      cpuAOverB: a.cpuPerFrameMs / b.cpuPerFrameMs,
      cpuAOverC: a.cpuPerFrameMs / c.cpuPerFrameMs,
      cpuAOverX: a.cpuPerFrameMs / x.cpuPerFrameMs,
      // The machine's limit at (a)'s own CPU cost: every core busy.
      aOverLimit: a.fps / ((cpus().length * 1000) / a.cpuPerFrameMs),
      cpuAOverXPaired: median(runs.a.map((r, k) => r.cpuPerFrameMs / runs.x[k]!.cpuPerFrameMs)),
      xOverLimit: x.fps / ((cpus().length * 1000) / x.cpuPerFrameMs),
    },
    encoder,
    copies: [
      "putAsync(): the caller's frame into the converter's WebAssembly memory, 192 KiB at a time (the caller keeps its buffer)",
      'putAsync(): each band converted to I420 at once, while in cache, into a queue slot in that memory (a conversion, not a copy; put() instead copies the whole frame into the slot and the drain converts it there)',
      "drain: appsrc.push() copies the I420 picture into a new GstBuffer (the binding's copy)",
    ],
    threads,
    waitMsPerFrame,
    loadAverage,
    stages: stageRows,
  };
}
