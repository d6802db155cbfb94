// One counting RTSP viewer at a time, in a process of its own that lives for the whole figure
// (starting a tsx process per run would cost a core-second inside the measured window).
// usage: node --import tsx bench/peers/rtsp-counter.ts
// Prints "ready". Commands on stdin, one answer line each:
//   watch URL   connects (DESCRIBE waits for the stream) -> "playing" or "error <why>"
//   count       what the viewer received since "playing", then disconnects
//               -> {"pictures":…,"packets":…,"bytes":…,"seqGaps":…,"playing":…,"error":…}
import { createInterface } from 'node:readline';
import { CountingViewer } from '../lib/rtsp-client.js';

let viewer: CountingViewer | undefined;
console.log('ready');
createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, arg] = line.trim().split(/\s+/);
  if (cmd === 'watch') {
    viewer?.stop();
    const v = new CountingViewer(arg!);
    viewer = v;
    v.start(15_000).then(
      () => console.log('playing'),
      (e: Error) => console.log(`error ${e.message}`),
    );
  } else if (cmd === 'count') {
    const v = viewer;
    viewer = undefined;
    console.log(JSON.stringify(v ? { pictures: v.pictures, packets: v.packets, bytes: v.bytes, seqGaps: v.seqGaps, playing: v.playing, error: v.error ?? null } : { pictures: 0, packets: 0, bytes: 0, seqGaps: 0, playing: false, error: 'no viewer' }));
    v?.stop();
  } else if (cmd === 'quit') {
    viewer?.stop();
    process.exit(0);
  }
});
process.stdin.on('end', () => process.exit(0));
