// RSS through a burst: 720p30 BGR into a FileSkyLine (to /dev/null) for 10 s, then 96 frames
// put at once (the queue fills, as behind a stalled encoder), then 30 fps again for 30 s.
// `node --expose-gc --import tsx bench/burst-rss.ts [worktree]` (default: this checkout); a
// worktree argument runs another checkout's src/ for a side-by-side before/after.
const root = process.argv[2] ?? new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const { FileSkyLine } = await import(`${root}/src/index.js`);
const { noisyFrames } = await import(`${root}/bench/lib/frames.js`);
const { quietLogger } = await import(`${root}/bench/lib/config.js`);
const W = 1280, H = 720, FPS = 30;
const frames: Buffer[] = noisyFrames(W, H, 8);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = () => process.memoryUsage.rss() / 2 ** 20;
const sky = new FileSkyLine({ path: '/dev/null', timestamps: false, bitrate: 2000, keyframeInterval: 60, speedPreset: 'ultrafast', frameThreads: false, queueBytes: 256 * 2 ** 20, logger: quietLogger(), statsIntervalMs: 0 });
await sky.startStreaming({ fps: FPS, width: W, height: H });
let i = 0;
const run = async (seconds: number) => {
  const t0 = performance.now();
  for (let k = 0; k < seconds * FPS; k++) {
    sky.put({ data: frames[i++ % frames.length]!, width: W, height: H });
    const wait = t0 + ((k + 1) * 1000) / FPS - performance.now();
    if (wait > 0) await sleep(wait);
  }
};
await run(10);
globalThis.gc?.();
const steady = mib();
for (let k = 0; k < 96; k++) sky.put({ data: frames[i++ % frames.length]!, width: W, height: H });
const burst = mib();
const after: string[] = [];
for (let s = 0; s < 6; s++) {
  await run(5);
  globalThis.gc?.();
  after.push(mib().toFixed(0));
}
const st = sky.stats();
await sky.stopStreaming();
await sky.close();
console.log(JSON.stringify({ steadyMiB: +steady.toFixed(0), burstMiB: +burst.toFixed(0), afterEvery5sMiB: after.map(Number), dropped: st.framesDropped }));
