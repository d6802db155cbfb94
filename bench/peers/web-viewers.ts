// N counting web-preview viewers in a process of their own: WebSocket clients of the page's
// protocol that count the access units they get without decoding (their CPU is not the server's).
// usage: node --import tsx bench/peers/web-viewers.ts WS_URL N
// Prints "playing" once all got a picture; on "go" (stdin) snapshots the counters, on "stop"
// prints one JSON line with what each received since "go", and exits.
import { createInterface } from 'node:readline';
import { WebSocket } from 'ws';

const [url, n] = [process.argv[2]!, Number(process.argv[3])];
const counts = Array.from({ length: n }, () => ({ pictures: 0, bytes: 0 }));
await Promise.all(counts.map((c) => new Promise<void>((resolve, reject) => {
  const ws = new WebSocket(url);
  let first = true;
  ws.on('message', (data, isBinary) => {
    if (!isBinary) return;
    c.pictures++;
    c.bytes += (data as Buffer).length;
    if (first) {
      first = false;
      resolve();
    }
  });
  ws.on('error', reject);
})));
console.log('playing');

let base = counts.map((c) => ({ ...c }));
let cpu0 = process.cpuUsage();
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'go') {
    base = counts.map((c) => ({ ...c }));
    cpu0 = process.cpuUsage();
  } else if (line === 'stop') {
    const cpu = process.cpuUsage(cpu0);
    const rows = counts.map((c, i) => ({ pictures: c.pictures - base[i]!.pictures, bytes: c.bytes - base[i]!.bytes }));
    console.log(JSON.stringify({ rows, cpuS: (cpu.user + cpu.system) / 1e6 }));
    process.exit(0);
  }
});
