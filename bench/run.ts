// `npm run bench`: runs every figure in a process of its own, keeps the raw results in
// bench/results/, draws the charts into bench/charts/ and writes BENCHMARKS.md.
//   BENCH_ONLY=put,throughput   run only these figures (the others keep their last results)
//   node --import tsx bench/run.ts destinations   the same, figures named on the command line
//   --report                    only rewrite BENCHMARKS.md and the charts from bench/results/
// Scale with BENCH_* variables (bench/lib/config.ts); docs/bench.md explains the method.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIG } from './lib/config.js';
import { commandOutput } from './lib/proc.js';
import { renderReport, type Results } from './report.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const resultsDir = join(here, 'results');
mkdirSync(resultsDir, { recursive: true });

interface Job {
  /** Key in bench/results/<key>.json. */
  key: keyof Results;
  figure: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs: number;
}

const JOBS: Job[] = [
  { key: 'put', figure: 'put', timeoutMs: 5 * 60_000 },
  { key: 'throughput', figure: 'throughput', timeoutMs: 15 * 60_000 },
  { key: 'latency', figure: 'latency', timeoutMs: 10 * 60_000 },
  { key: 'fanout', figure: 'fanout', timeoutMs: 10 * 60_000 },
  { key: 'web', figure: 'web', timeoutMs: 10 * 60_000 },
  { key: 'memory', figure: 'memory', timeoutMs: (CONFIG.stallSeconds + CONFIG.restarts * 0.5 + 180) * 1000 },
  { key: 'manyDefault', figure: 'many', env: { UV_THREADPOOL_SIZE: '' }, timeoutMs: 5 * 60_000 },
  { key: 'manyPool16', figure: 'many', env: { UV_THREADPOOL_SIZE: '16' }, timeoutMs: 5 * 60_000 },
  { key: 'ingest', figure: 'ingest', timeoutMs: 20 * 60_000 },
  // Every FileSkyLine holds a threadpool thread for its bus: room for the most streams tried, plus 4.
  { key: 'capacity', figure: 'capacity', env: { UV_THREADPOOL_SIZE: String(CONFIG.capacityMax + 4) }, timeoutMs: 20 * 60_000 },
  { key: 'encoders', figure: 'encoders', timeoutMs: 10 * 60_000 },
  { key: 'growth', figure: 'growth', env: { UV_THREADPOOL_SIZE: '16' }, timeoutMs: (CONFIG.growthSeconds + 120) * 1000 },
  // One encode, many destinations (issue 20), then the camera relay (bench/figures/relay.ts):
  // 3 contenders × 2 sizes × repeats runs of destSeconds, each with about 4 s of start, stop and read-back.
  {
    key: 'destinations', figure: 'destinations',
    timeoutMs: ((CONFIG.destSeconds + 6) * (3 * 2 * CONFIG.destRepeats + 1) + (CONFIG.relaySeconds + 6) * 3 * CONFIG.relayRepeats + 180) * 1000,
  },
  // HlsDestination played by hls.js in Chromium (issue 22): LL-HLS then plain HLS, a warm-up and
  // BENCH_HLS_SECONDS (30) each.
  { key: 'hls', figure: 'hls', timeoutMs: 5 * 60_000 },
];

function runJob(job: Job): Promise<void> {
  const out = join(resultsDir, `${job.key}.json`);
  const env = { ...process.env, ...job.env };
  if (env.UV_THREADPOOL_SIZE === '') delete env.UV_THREADPOOL_SIZE;
  const started = Date.now();
  process.stderr.write(`[bench] ${job.key}: running\n`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', join(here, 'child.ts'), job.figure, out], {
      cwd: root,
      env,
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 50_000) stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), job.timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const secs = ((Date.now() - started) / 1000).toFixed(0);
      if (code === 0) {
        process.stderr.write(`[bench] ${job.key}: done in ${secs} s\n`);
      } else {
        const why = signal === 'SIGKILL' ? `timed out after ${job.timeoutMs / 1000} s` : `exit ${code ?? signal}`;
        process.stderr.write(`[bench] ${job.key}: FAILED (${why})\n${stderr.slice(-3000)}\n`);
        writeFileSync(out, JSON.stringify({ error: `${why}: ${lastLines(stderr)}` }, null, 2));
      }
      resolve();
    });
  });
}

function lastLines(s: string): string {
  return s.trim().split('\n').slice(-6).join(' | ').slice(0, 1500);
}

async function machine(): Promise<Results['machine']> {
  const gst = (await commandOutput('gst-launch-1.0', ['--version'])).match(/GStreamer ([\d.]+)/)?.[1] ?? '?';
  const ffmpeg = (await commandOutput('ffmpeg', ['-version'])).match(/ffmpeg version (\S+)/)?.[1] ?? '?';
  const x264 = (await commandOutput('gst-inspect-1.0', ['x264enc'])).match(/Version\s+([\d.]+)/)?.[1] ?? '?';
  const libx264 = (await commandOutput('sh', ['-c', 'ls /usr/lib/*/libx264.so.* 2>/dev/null | head -1'])).trim().split('.so.')[1] ?? '?';
  const python = (await commandOutput('/usr/bin/python3', ['--version'])).trim();
  const c = cpus();
  return {
    cpu: c[0]?.model ?? '?',
    cores: c.length,
    memoryGiB: totalmem() / 2 ** 30,
    kernel: release(),
    node: process.version,
    gstreamer: gst,
    gstPluginsUgly: x264,
    libx264: libx264 || '?',
    ffmpeg,
    python,
    loadAverageAtStart: loadavg()[0]!,
    date: new Date().toISOString(),
    config: { ...CONFIG },
  };
}

function load(): Results {
  const r: Partial<Results> = {};
  // relayPreview: the relay figure run alone on a tree that has LiveSource.attach before it is
  // merged (node --import tsx bench/child.ts relay bench/results/relayPreview.json). hlsShortSegments:
  // the HLS figure with 1 s segments (BENCH_HLS_SEGMENT_MS=1000 node --import tsx bench/child.ts hls bench/results/hlsShortSegments.json).
  for (const key of ['machine', ...JOBS.map((j) => j.key), 'relayPreview', 'hlsShortSegments'] as Array<keyof Results>) {
    const f = join(resultsDir, `${key}.json`);
    if (existsSync(f)) (r as Record<string, unknown>)[key] = JSON.parse(readFileSync(f, 'utf8'));
  }
  return r as Results;
}

const reportOnly = process.argv.includes('--report');
if (!reportOnly) {
  const named = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const only = named.length > 0 ? named : process.env.BENCH_ONLY?.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = (only ?? []).filter((o) => !JOBS.some((j) => j.key === o || j.figure === o));
  if (unknown.length) {
    process.stderr.write(`[bench] unknown figure(s) ${unknown.join(', ')}; one of ${[...new Set(JOBS.flatMap((j) => [j.key, j.figure]))].join(', ')}\n`);
    process.exit(2);
  }
  const t0 = Date.now();
  // A partial run keeps the machine record of the full run the other figures came from (each
  // partial figure records its own date and load average).
  const machineFile = join(resultsDir, 'machine.json');
  if (!only || !existsSync(machineFile)) writeFileSync(machineFile, JSON.stringify(await machine(), null, 2));
  for (const job of JOBS) {
    if (only && !only.includes(job.key) && !only.includes(job.figure)) continue;
    await runJob(job);
  }
  process.stderr.write(`[bench] all figures in ${((Date.now() - t0) / 60_000).toFixed(1)} min\n`);
}
const { markdown, charts } = renderReport(load());
mkdirSync(join(here, 'charts'), { recursive: true });
for (const [name, svg] of Object.entries(charts)) writeFileSync(join(here, 'charts', name), svg);
writeFileSync(join(root, 'BENCHMARKS.md'), markdown);
process.stderr.write('[bench] wrote BENCHMARKS.md and bench/charts/\n');
