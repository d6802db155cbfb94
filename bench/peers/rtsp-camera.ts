// A camera for the relay figure, in a process of its own (its CPU is not the relay's): the
// benchmark's noisy frames encoded once by ffmpeg (x264 ultrafast, 4000 kbit/s CBR, keyframe every
// 60 frames, SPS/PPS before every keyframe, an AUD before every picture), served in a loop at the
// frame rate by our RTSP server, as a live encoder would.
// usage: node --import tsx bench/peers/rtsp-camera.ts WIDTH HEIGHT FPS
// Prints "ready rtsp://127.0.0.1:PORT/cam". stdin "sent" -> the number of pictures sent so far.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { RTSPServer } from '../../src/rtsp/server.js';
import { accessUnitsOf } from '../../test/support/access-units.js';
import { ClipPlayer } from '../../test/support/rtsp-source.js';
import { ENCODER } from '../lib/config.js';
import { noisyFrames } from '../lib/frames.js';

const [W, H, FPS] = process.argv.slice(2, 5).map(Number) as [number, number, number];
const dir = mkdtempSync(join(tmpdir(), 'bench-camera-'));
const raw = join(dir, 'frames.bgr');
const h264 = join(dir, 'clip.h264');
writeFileSync(raw, Buffer.concat(noisyFrames(W, H, 16, 11)));
const frames = 10 * FPS;
const r = spawnSync('ffmpeg', [
  '-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'bgr24', '-s', `${W}x${H}`, '-r', String(FPS), '-stream_loop', '-1', '-i', raw,
  '-frames:v', String(frames), '-c:v', 'libx264', '-preset', ENCODER.preset, '-tune', ENCODER.tune, '-profile:v', 'high',
  '-b:v', `${ENCODER.bitrateKbps}k`, '-maxrate', `${ENCODER.bitrateKbps}k`, '-bufsize', `${(ENCODER.bitrateKbps * 0.6).toFixed(0)}k`,
  '-g', String(ENCODER.keyframeInterval), '-bf', '0', '-pix_fmt', 'yuv420p', '-x264-params', 'aud=1:repeat-headers=1',
  '-f', 'h264', h264,
]);
if (r.status !== 0) {
  console.log(`error ffmpeg could not encode the clip: ${r.stderr}`);
  process.exit(1);
}
const clip = accessUnitsOf(readFileSync(h264), FPS);
rmSync(dir, { recursive: true, force: true });

const server = new RTSPServer({ port: 0, host: '127.0.0.1', logger: pino({ level: 'warn' }) });
await server.listen();
let player: ClipPlayer | undefined;
const mount = server.mount('/cam', { onKeyframeRequest: () => player?.requestKeyframe() });
player = new ClipPlayer(clip, FPS, (au) => mount.pushAccessUnit(au));
player.start();
console.log(`ready ${server.url('/cam')}`);
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'sent') console.log(String(player!.sent));
});
process.stdin.on('end', () => process.exit(0));
