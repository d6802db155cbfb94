// The HLS section of BENCHMARKS.md (figure 13, issue 22), kept beside report.ts so the figure's
// wording lives in one place.
import type { HlsResult } from './figures/hls.js';
import { fmt } from './lib/stats.js';
import { lineChart } from './lib/svg.js';

export interface HlsTarget {
  figure: string;
  target: string;
  measured: string;
  holds: boolean | undefined;
}

type Table = (head: string[], rows: Array<Array<string | number>>) => string;

const s = (ms: number) => `${fmt(ms / 1000, 2)} s`;

export function hlsSection(r: HlsResult, table: Table, cores: number, short?: HlsResult): { lines: string[]; targets: HlsTarget[]; charts: Record<string, string> } {
  const targets: HlsTarget[] = [];
  const lines: string[] = [];
  const charts: Record<string, string> = {};
  lines.push('## 13. HLS (HlsDestination) in Chromium with hls.js, 720p30, loopback\n');
  for (const row of r.rows) {
    targets.push({
      figure: '13',
      target: `hls.js ${row.lowLatencyMode ? 'LL-HLS' : 'plain HLS'} p95 ≤ ${s(row.goalP95Ms)}`,
      measured: `${s(row.p95Ms)} (p50 ${s(row.p50Ms)}, max ${s(row.maxMs)}, ${row.samples} pictures)`,
      holds: row.p95Ms <= row.goalP95Ms,
    });
  }
  lines.push(
    `One MultiSkyLine with an HlsDestination on its own server (parts of ${r.partMs} ms, segments of ${r.segmentMs} ms, a keyframe every ${r.keyframeInterval} frames: the README's settings), fed noisy ${r.width}×${r.height} frames at ${r.fps} fps carrying their index in the band, each frame's put() time kept. ` +
      `A page on another origin (CORS) plays the playlist with hls.js ${r.hlsJs} in headless Chromium ${r.chromium} (software decoding), \`new Hls({ lowLatencyMode, backBufferLength: 4, maxLiveSyncPlaybackRate: 1.5 })\`: ` +
      `first with \`lowLatencyMode: true\` (parts and blocking playlist reload), then, on the same stream, a fresh page with \`lowLatencyMode: false\` (whole segments, no parts; hls.js still uses the playlist's blocking reload by media sequence, and holds its default of 3 target durations behind the live edge, \`liveSyncDurationCount\`). ` +
      `Each run: a warm-up (${r.warmupSeconds.ll} s LL-HLS, ${r.warmupSeconds.plain} s plain: hls.js finds the live edge and settles its rate), then ${r.seconds} s measured (\`BENCH_HLS_SECONDS\`). ` +
      'Per picture that requestVideoFrameCallback reports, the page reads the index band: latency = that moment (page clock) − the moment just before put() (same machine, both epoch clocks).\n',
  );
  lines.push(`Run ${r.date} on ${cores} shared cores; load average ${fmt(r.loadAverageStart, 2)} when the figure started and ${fmt(r.loadAverageEnd, 2)} when it ended (the encoder, the server and Chromium's decoder share these cores).\n`);
  lines.push(table(['player', 'p50', 'p95', 'p99', 'min', 'max', 'pictures measured', 'shown / put', 'unreadable', "hls.js's own latency (p50)", 'first picture', 'playlist requests (blocking)', 'goal p95'], r.rows.map((row) => [
    row.name, s(row.p50Ms), s(row.p95Ms), s(row.p99Ms), s(row.minMs), s(row.maxMs), row.samples, `${fmt(row.shownRatio * 100, 0)} %`, row.unreadable,
    Number.isFinite(row.hlsJsLatencyS) ? `${fmt(row.hlsJsLatencyS, 2)} s` : '–', Number.isFinite(row.firstPictureMs) ? s(row.firstPictureMs) : '–',
    `${row.playlists} (${row.blockingReloads})`, `≤ ${s(row.goalP95Ms)}`,
  ])));
  const errs = r.rows.filter((row) => row.hlsErrors.length).map((row) => `${row.lowLatencyMode ? 'LL-HLS' : 'plain'}: ${row.hlsErrors.join(', ')}`);
  if (errs.length) lines.push(`hls.js reported (non-fatal unless marked): ${errs.join('; ')}.\n`);
  const ref = r.reference;
  lines.push(
    `Reference (published, not measured here): ${ref.source}: “${ref.quote}” — LL-HLS ${s(ref.llHlsMs[0])}–${s(ref.llHlsMs[1])}, plain HLS ${s(ref.plainHlsMs[0])}–${s(ref.plainHlsMs[1])}. ` +
      "No latency figure was found in hls.js's documentation (its \`lowLatencyMode\` API page describes the setting only). " +
      "The reference is MediaMTX's statement about its own server; ours counts from put(), so the encode is included.\n",
  );
  const plain = r.rows.find((row) => !row.lowLatencyMode);
  if (plain) {
    lines.push(
      `Plain HLS sits where hls.js puts it: without low-latency mode it plays \`liveSyncDurationCount\` (3) target durations behind the end of the playlist (its targetLatency here: ${plain.hlsJsTargetLatencyS ?? '?'} s for EXT-X-TARGETDURATION ${Math.round(r.segmentMs / 1000)}), ` +
        'and the newest frame put is on average half a segment past that end, so p50 ≈ 3 × segment + segment / 2. With 2 s segments no run of the default player can hold ≤ 6 s; shorter segments (`segmentMs` and the keyframe interval) or a smaller `liveSyncDurationCount` in the player would.\n',
    );
  }
  if (short) {
    lines.push(
      `The same figure with segments of ${short.segmentMs} ms and a keyframe every ${short.keyframeInterval} frames (\`BENCH_HLS_SEGMENT_MS=${short.segmentMs}\`, run alone by bench/child.ts ${short.date}; load average ${fmt(short.loadAverageStart, 2)} → ${fmt(short.loadAverageEnd, 2)}; not a target row, the README's settings above are):\n`,
    );
    lines.push(table(['player', 'p50', 'p95', 'max', 'pictures measured', 'shown / put', "hls.js's own latency (p50)", 'first picture'], short.rows.map((row) => [
      row.name, s(row.p50Ms), s(row.p95Ms), s(row.maxMs), row.samples, `${fmt(row.shownRatio * 100, 0)} %`,
      Number.isFinite(row.hlsJsLatencyS) ? `${fmt(row.hlsJsLatencyS, 2)} s` : '–', Number.isFinite(row.firstPictureMs) ? s(row.firstPictureMs) : '–',
    ])));
  }
  charts['hls-latency.svg'] = lineChart({
    title: 'Glass-to-glass latency, HlsDestination + hls.js in Chromium, 720p30 loopback', xLabel: 'latency (ms)', yLabel: 'fraction of pictures', legendAt: [0.45, 0.45],
    series: r.rows.map((row) => ({ label: row.name, points: row.cdf.map((v, i) => [v, (i + 1) / row.cdf.length] as [number, number]) })),
  });
  lines.push('![HLS latency](bench/charts/hls-latency.svg)\n');
  return { lines, targets, charts };
}
