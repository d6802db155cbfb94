// The "one encode, many destinations" section of BENCHMARKS.md (figure 12, issue 20), kept beside
// report.ts so the figure's wording lives in one place.
import type { DestinationsResult, DestRun } from './figures/destinations.js';
import { delivered } from './figures/destinations.js';
import type { RelayResult } from './figures/relay.js';
import { fmt } from './lib/stats.js';
import { barChart } from './lib/svg.js';

export interface DestTarget {
  figure: string;
  target: string;
  measured: string;
  holds: boolean | undefined;
}

type Table = (head: string[], rows: Array<Array<string | number>>) => string;

const x = (v: number | undefined, d = 2) => (v === undefined || !Number.isFinite(v) ? '–' : `${v.toFixed(d)}×`);

function outputsOf(r: DestRun): string {
  return r.outputs.map((o) => `${o.output} ${o.got}/${o.expected}`).join(', ');
}

export function destinationsSection(r: DestinationsResult, table: Table, cores: number, preview?: RelayResult): { lines: string[]; targets: DestTarget[]; charts: Record<string, string> } {
  const targets: DestTarget[] = [];
  const lines: string[] = [];
  const charts: Record<string, string> = {};
  lines.push('## 12. One encode, many destinations\n');
  lines.push(
    `Noisy BGR frames put() in real time (${r.fps} fps, ${r.seconds} s per run, \`BENCH_DEST_SECONDS\`) into (a) one MultiSkyLine with a FileDestination, an RtspDestination (one counting viewer), an RtmpDestination (nginx-rtmp, recording each publish) and a KvsDestination (the KVS emulator); ` +
      '(b) four SkyLines, FileSkyLine, RTSPSkyLine (one viewer), RtmpSkyLine and KVSSkyLine (PutMedia), each given every frame: four encoders, what one had to build before destinations; (c) a FileSkyLine alone. ' +
      `Each contender ran ${r.repeats} times per size, in rotating order (a b c, b c a, c a b); the run with the median CPU per frame is shown, and the paired ratio is the median of the ratios within each round. ${r.counted}\n`,
  );
  lines.push(
    `Run ${r.date ?? ''} on ${cores} cores shared with other work (not the run of the figures above); load average ${fmt(r.loadAverageStart, 2)} when the figure started and ${fmt(r.loadAverageEnd, 2)} when it ended. Read the numbers as ±20 %; the ratios within one round are steadier than the absolute CPU.\n`,
  );
  for (const s of r.sizes) {
    const holdsB = s.ratios.aOverB <= 0.35, holdsC = s.ratios.aOverC <= 1.25;
    targets.push({ figure: '12', target: `${s.label}30: CPU per frame of one MultiSkyLine (file+RTSP+RTMP+KVS) ≤ 0.35 × four SkyLines`, measured: `${x(s.ratios.aOverB)} (paired ${x(s.ratios.aOverBPaired)})`, holds: holdsB });
    targets.push({ figure: '12', target: `${s.label}30: … and ≤ 1.25 × a FileSkyLine alone`, measured: `${x(s.ratios.aOverC)} (paired ${x(s.ratios.aOverCPaired)})`, holds: holdsC });
  }
  lines.push(table(['size', 'a / b (goal ≤ 0.35)', 'a / b paired', 'a / b per frame kept', 'a / b with relay + emulator CPU', 'a / c (goal ≤ 1.25)', 'a / c paired'], r.sizes.map((s) => [
    s.label, x(s.ratios.aOverB), x(s.ratios.aOverBPaired), x(s.ratios.aOverBPerKept), x(s.ratios.aOverBWithPeers), x(s.ratios.aOverC), x(s.ratios.aOverCPaired),
  ])));
  lines.push('"Per frame kept" divides by the frames each SkyLine kept rather than the frames put: when the four encoders of (b) fall behind real time their SkyLines drop frames at put() and encode fewer, which flatters (b) per frame put.\n');
  const rows: Array<Array<string | number>> = [];
  for (const s of r.sizes) {
    for (const k of s.contenders) {
      const m = k.median;
      rows.push([
        s.label, `(${k.key}) ${k.name}`, fmt(m.cpuPerFrameMs, 2), fmt((m.cpuS / m.wallS), 2), fmt(m.startCpuS, 2),
        `${fmt(((m.relayCpuS + m.emulatorCpuS) * 1000) / m.frames, 2)}`, k.runs.map((run) => fmt(run.cpuPerFrameMs, 1)).join(', '),
        `${m.framesDropped} / ${m.unitsDropped}`, outputsOf(m),
      ]);
    }
  }
  lines.push(table(['size', 'contender', 'CPU ms / frame (median)', 'cores busy', 'start-up CPU s', 'relay + emulator CPU ms / frame', 'CPU ms / frame of each run', 'frames dropped / units dropped', 'outputs: got / expected (median run)'], rows));
  const threadRows: Array<Array<string | number>> = [];
  for (const s of r.sizes) {
    for (const k of s.contenders.filter((c) => c.key !== 'b' && c.median.threads)) {
      threadRows.push([s.label, `(${k.key})`, k.median.threads.slice(0, 8).map((t) => `${t.name}${t.threads > 1 ? ` ×${t.threads}` : ''} ${fmt(t.msPerFrame, 2)}`).join(', ')]);
    }
  }
  if (threadRows.length) {
    lines.push("Where (a)'s and (c)'s CPU went, median run, ms per frame by thread name from the first put() to the last (GStreamer names a thread after the element that started it; x264's threads inherit the name of the thread that created them; Node's main thread does put()'s copy, the BGR → I420 conversion, RTP packetization for RTSP and the KVS producer's MKV and HTTP):\n");
    lines.push(table(['size', 'contender', 'threads, ms per frame'], threadRows));
  }
  const all = r.sizes.flatMap((s) => s.contenders.flatMap((k) => k.runs.map((run) => ({ s, k, run }))));
  const short = all.filter(({ run }) => !delivered(run));
  lines.push(
    'Every output is read back: the file and the relay\'s recording of the publish are counted with ffprobe, the emulator counts the frames of the fragments it stored, and the RTSP viewer counts pictures (RTP marker bits) from the first keyframe it was sent. ' +
      "For the file, the relay and KVS \"expected\" is what the output's SkyLine kept: the frames put less those it dropped at put() because its encoder had fallen behind (a SkyLine drops rather than queue without bound; the drops are in the table); " +
      'for RTSP it is what the encoder made while the viewer played, so the viewer misses up to one keyframe request gap (1 s) at the start by design. ' +
      (short.length === 0
        ? 'In every run every file, relay recording and KVS stream held every frame its SkyLine kept, and every RTSP viewer got every picture from its first keyframe with no RTP sequence gap.\n'
        : `Runs where an output missed frames its SkyLine kept: ${short.map(({ s, k, run }) => `${s.label} (${k.key}): ${outputsOf(run)}`).join('; ')}.\n`),
  );
  const dropping = all.filter(({ run }) => run.framesDropped > 0);
  if (dropping.length) {
    lines.push(`Runs where a SkyLine dropped frames at put() (the encoder behind real time on the shared cores): ${dropping.map(({ s, k, run }) => `${s.label} (${k.key}) ${run.framesDropped} of ${run.frames}${k.key === 'b' ? ' (over four SkyLines)' : ''}`).join('; ')}.\n`);
  }
  const errs = all.filter(({ run }) => run.errors.length > 0);
  if (errs.length) lines.push(`Errors reported during runs: ${errs.map(({ s, k, run }) => `${s.label} (${k.key}): ${run.errors.slice(0, 3).join(' | ')}`).join('; ')}.\n`);
  charts['destinations.svg'] = barChart({
    title: 'File + RTSP + RTMP + KVS: CPU per frame (median; lower is better)', unit: 'CPU milliseconds per frame (this process, all threads)',
    groups: r.sizes.map((s) => ({ label: `${s.label}30`, bars: s.contenders.map((k) => ({ label: k.key === 'a' ? '(a) MultiSkyLine, 4 dest.' : k.key === 'b' ? '(b) four SkyLines' : '(c) FileSkyLine alone', value: k.median.cpuPerFrameMs })) })),
  });
  lines.push('![one encode, many destinations](bench/charts/destinations.svg)\n');

  // The relay part: this run's, and a run on a tree that has LiveSource.attach when this one lacks it.
  lines.push('### A camera relayed: LiveSource.attach, decode + re-encode, ffmpeg -c copy\n');
  const parts = [r.relay, ...(r.relay.ratios?.rOverD === undefined && preview?.ratios?.rOverD !== undefined ? [preview] : [])];
  for (const rl of parts) relaySection(rl, rl === preview, table, targets, lines);
  return { lines, targets, charts };
}

function relaySection(rl: RelayResult, isPreview: boolean, table: Table, targets: DestTarget[], lines: string[]): void {
  if (isPreview) {
    lines.push(`The same relay figure run alone (\`node --import tsx bench/child.ts relay bench/results/relayPreview.json\`) on ${rl.source ?? 'another tree'}, ${rl.date ?? ''}, load average ${fmt(rl.loadAverage, 2)}:\n`);
  }
  if (!rl.contenders) {
    lines.push(`_${rl.skipped ?? 'not run'}_\n`);
  } else {
    if (rl.skipped) lines.push(`_${rl.skipped}._\n`);
    lines.push(
      `A camera (our RTSP server in a child process, looping ${rl.width}x${rl.height} noisy frames encoded once by libx264 ultrafast at 4000 kbit/s, keyframe every 60 frames) relayed to a fragmented MP4 for ${rl.seconds} s per run: (r) \`LiveSource.attach(new FileDestination(…))\`, no decoder, no encoder; (d) LiveSource's decoded BGR frames put() into a FileSkyLine (decode, annotate nothing, re-encode); (f) \`ffmpeg ${(rl.ffmpegArgs ?? []).join(' ')}\`. ${rl.counted ?? ''} Contenders alternate; medians.\n`,
    );
    const ratios = rl.ratios!;
    const tag = isPreview ? ` (${rl.source ?? 'preview'})` : '';
    if (ratios.rOverD !== undefined) targets.push({ figure: `12${tag}`, target: 'camera relayed through LiveSource.attach ≤ 0.1 × the CPU of decode + re-encode', measured: x(ratios.rOverD, 3), holds: ratios.rOverD <= 0.1 });
    if (ratios.rOverF !== undefined) targets.push({ figure: `12${tag}`, target: 'camera relayed through LiveSource.attach within 1.5 × ffmpeg -c copy', measured: x(ratios.rOverF), holds: ratios.rOverF <= 1.5 });
    lines.push(table(['ratio (CPU per frame)', 'measured'], [
      ['r / d (goal ≤ 0.1)', x(ratios.rOverD, 3)],
      ['r / f (goal ≤ 1.5)', x(ratios.rOverF)],
      ['d / f', x(ratios.dOverF)],
    ]));
    lines.push(table(['contender', 'CPU ms / frame (median)', 'frames in file', 'CPU ms / frame of each run', 'notes'], rl.contenders.map((k) => [
      `(${k.key}) ${k.name}`, fmt(k.median.cpuPerFrameMs, 3), k.median.framesInFile, k.runs.map((run) => fmt(run.cpuPerFrameMs, 2)).join(', '),
      [k.median.framesDecoded !== undefined ? `frames decoded ${k.median.framesDecoded}` : '',
        k.median.threads ? `threads (ms/frame): ${k.median.threads.slice(0, 5).map((t) => `${t.name}${t.threads > 1 ? ` ×${t.threads}` : ''} ${fmt(t.msPerFrame, 2)}`).join(', ')}` : '', k.median.dropped !== undefined ? `dropped ${k.median.dropped}` : '', k.median.errors.join(' | ')].filter(Boolean).join('; '),
    ])));
  }
}
