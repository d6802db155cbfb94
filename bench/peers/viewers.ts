// N counting RTSP viewers in a process of their own (their CPU is not the server's).
// usage: node --import tsx bench/peers/viewers.ts URL N
// Prints "playing" once all play; on "go" (stdin) it snapshots the counters, on "stop" it
// prints one JSON line with what each viewer received since "go", and exits.
import { createInterface } from 'node:readline';
import { CountingViewer } from '../lib/rtsp-client.js';

const [url, n] = [process.argv[2]!, Number(process.argv[3])];
const viewers = Array.from({ length: n }, () => new CountingViewer(url));
// Connect in small batches: a burst of 50 DESCRIBEs at once is not what is measured.
for (let i = 0; i < n; i += 10) await Promise.all(viewers.slice(i, i + 10).map((v) => v.start()));
console.log('playing');

let base: Array<{ pictures: number; bytes: number; seqGaps: number }> = [];
let cpu0 = process.cpuUsage();
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line === 'go') {
    base = viewers.map((v) => ({ pictures: v.pictures, bytes: v.bytes, seqGaps: v.seqGaps }));
    cpu0 = process.cpuUsage();
  } else if (line === 'stop') {
    const cpu = process.cpuUsage(cpu0);
    const rows = viewers.map((v, i) => ({
      pictures: v.pictures - base[i]!.pictures,
      bytes: v.bytes - base[i]!.bytes,
      seqGaps: v.seqGaps - base[i]!.seqGaps,
      playing: v.playing && !v.error,
    }));
    console.log(JSON.stringify({ rows, cpuS: (cpu.user + cpu.system) / 1e6 }));
    for (const v of viewers) v.stop();
    process.exit(0);
  }
});
