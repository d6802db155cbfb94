// A decoding viewer read in a process of its own: it runs the viewer (bench/lib/viewer.ts),
// reads the index band of each decoded frame the moment it is complete and prints
// "F <index> <epoch ms>". The server's process then does not read 27 MB/s of decoded 720p
// grey pictures itself (their allocations and GC would land on the server's event loop, and
// the peer server never paid them).
// usage: node --import tsx bench/peers/index-reader.ts <gstreamer|ffmpeg> URL WIDTH HEIGHT
// Ends (and stops the viewer) when its stdin closes.
import { startViewer, type ViewerKind } from '../lib/viewer.js';

const [kind, url, w, h] = process.argv.slice(2) as [ViewerKind, string, string, string];
const out: string[] = [];
const viewer = startViewer(url, Number(w), Number(h), (index, at) => {
  out.push(`F ${index} ${at.toFixed(3)}\n`);
  if (out.length === 1) setImmediate(() => process.stdout.write(out.splice(0).join('')));
}, kind);
process.stdin.resume();
process.stdin.on('end', () => viewer.stop());
const { code, stderr } = await viewer.done;
process.stdout.write(out.splice(0).join(''));
process.stderr.write(stderr);
process.exitCode = code ?? 0;
