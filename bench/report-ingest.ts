// The LiveSource section of BENCHMARKS.md (figure 7), kept beside report.ts so each figure's
// wording lives in one place.
import type { IngestResult } from './figures/ingest.js';
import { fmt } from './lib/stats.js';

export interface IngestTarget {
  figure: string;
  target: string;
  measured: string;
  holds: boolean | undefined;
}

type Table = (head: string[], rows: Array<Array<string | number>>) => string;

export function ingestSection(r: IngestResult, table: Table): { lines: string[]; targets: IngestTarget[] } {
  const d = r.decode;
  const m = r.memory;
  const l = r.latest;
  const MB = (b: number) => `${fmt(b / 1e6, 1)} MB`;
  const targets: IngestTarget[] = [
    { figure: '8', target: 'LiveSource decodes 1080p at ≥ 1.2× the fps of an ffmpeg pipe', measured: `${fmt(d.fpsRatio, 2)}× (${fmt(d.ours.fps)} vs ${fmt(d.peer.fps)} fps)`, holds: d.fpsRatio >= 1.2 },
    { figure: '8', target: 'with less CPU per frame', measured: `${fmt(d.ours.cpuMsPerFrame, 2)} vs ${fmt(d.peer.cpuMsPerFrame, 2)} ms (${fmt(d.cpuRatio, 2)}×)`, holds: d.cpuRatio < 1 },
    { figure: '8', target: '60 s of 720p at 2 Mbit/s buffered in about 15 MB', measured: `${MB(m.ringBytes)} of units, RSS +${MB(m.rssGrowthBytes)}`, holds: m.ringBytes < 18e6 && m.rssGrowthBytes < 40e6 },
  ];
  const lines: string[] = [];
  lines.push('## 8. LiveSource: decoding, latest() latency, the encoded buffer\n');
  if (r.ran) lines.push(`Run ${r.ran.date}, load average at start ${fmt(r.ran.loadAverageAtStart, 2)} on ${'the shared machine'} (other engineers' builds and benchmarks ran meanwhile: expect ±30 %).\n`);
  lines.push(`Decoding a ${d.width}x${d.height} H.264 file (${d.frames} frames, libx264 superfast, 4 Mbit/s) into BGR frames in Node: LiveSource (\`filePace: 'fast'\`, every frame through \`for await\`) against \`ffmpeg -i FILE -f rawvideo -pix_fmt bgr24 pipe:1\` read into one Buffer per frame. CPU includes every process involved (ours: Node with the in-process decoder, and the ingest worker). Runs alternate; medians.\n`);
  lines.push(table(['contender', 'fps', 'CPU per frame'], [
    ['LiveSource', fmt(d.ours.fps), `${fmt(d.ours.cpuMsPerFrame, 2)} ms`],
    ['ffmpeg child piping raw frames', fmt(d.peer.fps), `${fmt(d.peer.cpuMsPerFrame, 2)} ms`],
    ['ratio (target ≥ 1.2 fps, < 1 CPU)', `${fmt(d.fpsRatio, 2)}×`, `${fmt(d.cpuRatio, 2)}×`],
  ]));
  lines.push(`Where the time goes: decoding to BGR alone (frames thrown away) costs ${fmt(d.alone.gstreamerCpuMsPerFrame, 2)} ms of CPU per frame in GStreamer (avdec_h264 + videoconvert) and ${fmt(d.alone.ffmpegCpuMsPerFrame, 2)} ms in ffmpeg (libavcodec + swscale); the rest of each contender's figure is moving ${fmt((d.width * d.height * 3) / 1e6, 1)} MB per frame into Node (loopback TCP for ours, a pipe for ffmpeg) and cutting it into frames. Done so far: the decoder's output is read into one fixed 1 MiB buffer (net.Socket \`onread\`) instead of a fresh 64 KiB chunk per read (about a hundred allocations per frame, what the profile found the garbage collector busy with); a queue after avdec_h264 lets conversion and sending run beside decoding. What is left, measured apart from this run: videoconvert's I420 → BGR costs about 3 ms of CPU per 1080p frame where swscale's costs 1.2 ms (I420 → BGRx, which has a fast path, 1.5 ms); reading frames straight into their own buffers (onread's per-read buffer) was slower, the page faults of a fresh 6 MB buffer then land in the kernel's copy. What would close the gap: frames out of GStreamer as I420 (half the bytes) converted to BGR by a WebAssembly SIMD kernel, as the egress side does the other way; recycling frame buffers the caller gives back.\n`);
  lines.push(table(['run', 'contender', 'fps', 'CPU per frame', 'wall'], d.runs.map((run, i) => [i + 1, run.name, fmt(run.fps), `${fmt(run.cpuMsPerFrame, 2)} ms`, `${fmt(run.wallS, 2)} s`])));
  lines.push(`latest() from an RTSP source: RTSPSkyLine ${l.width}x${l.height}@${l.fps} → LiveSource over RTSP/TCP, latest() polled for ${l.seconds} s; latency = when the decoded frame reached Node − its capture time (from the RTCP sender reports): encoding, RTSP, depacketizing, decoding, conversion to BGR and the loopback hop included.\n`);
  lines.push(table(['frames returned', 'p50', 'p95', 'max', 'frames decoded / units received'], [[l.samples, `${fmt(l.p50Ms)} ms`, `${fmt(l.p95Ms)} ms`, `${fmt(l.maxMs)} ms`, `${l.framesDecoded} / ${l.unitsReceived}`]]));
  lines.push(`Memory: ${m.seconds} s of ${m.width}x${m.height} at ${m.bitrateKbps} kbit/s read into the ring (\`bufferSeconds: ${m.seconds}\`), nobody decoding.\n`);
  lines.push(table(['units buffered', 'ring bytes', 'RSS growth', 'the same as raw BGR frames'], [[m.units, MB(m.ringBytes), MB(m.rssGrowthBytes), `${fmt(m.rawBytes / 1e9, 2)} GB`]]));
  return { lines, targets };
}
