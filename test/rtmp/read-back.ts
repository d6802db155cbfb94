/**
 * Read a live stream back from the relay with ffmpeg: decoded frames with their
 * size, timestamp, keyframe flag and BGR pixels.
 */
import { spawn } from 'node:child_process';

export interface DecodedFrame {
  width: number;
  height: number;
  ptsMs: number;
  keyframe: boolean;
  /** BGR24 pixels, width*height*3 bytes. */
  bgr: Buffer;
}

/**
 * Decode up to `count` frames from `url`. Resolves with what was decoded when
 * the count is reached, the stream ends, or `timeoutMs` passes (ffmpeg is killed).
 */
export function readFrames(url: string, count: number, timeoutMs = 10_000): Promise<DecodedFrame[]> {
  return new Promise((resolve) => {
    const ff = spawn(
      'ffmpeg',
      [
        '-hide_banner', '-nostdin', '-loglevel', 'info',
        '-rw_timeout', String(timeoutMs * 1000),
        // A live stream has no end to probe to: decide on the stream after 1 s, not the default 5 s.
        '-analyzeduration', '1000000',
        '-i', url,
        '-frames:v', String(count),
        '-vf', 'showinfo',
        '-f', 'rawvideo', '-pix_fmt', 'bgr24', 'pipe:1',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const out: Buffer[] = [];
    let err = '';
    ff.stdout.on('data', (d: Buffer) => out.push(d));
    ff.stderr.on('data', (d: Buffer) => {
      err += d.toString('utf8');
    });
    const timer = setTimeout(() => ff.kill('SIGKILL'), timeoutMs);
    ff.once('close', () => {
      clearTimeout(timer);
      const pixels = Buffer.concat(out);
      const frames: DecodedFrame[] = [];
      let offset = 0;
      for (const line of err.split('\n')) {
        if (!line.includes('Parsed_showinfo') || !line.includes(' n:')) continue;
        const pts = /pts_time:\s*([-\d.]+)/.exec(line);
        const size = /\bs:(\d+)x(\d+)/.exec(line);
        const key = /iskey:(\d)/.exec(line);
        if (!pts || !size) continue;
        const width = Number(size[1]);
        const height = Number(size[2]);
        const len = width * height * 3;
        if (offset + len > pixels.length) break;
        frames.push({
          width,
          height,
          ptsMs: Math.round(Number(pts[1]) * 1000),
          keyframe: key?.[1] === '1',
          bgr: pixels.subarray(offset, offset + len),
        });
        offset += len;
      }
      resolve(frames);
    });
  });
}

/** Mean of each channel (B, G, R) of a BGR frame. */
export function meanBgr(bgr: Buffer): [number, number, number] {
  const sum = [0, 0, 0];
  for (let i = 0; i < bgr.length; i += 3) {
    sum[0] += bgr[i];
    sum[1] += bgr[i + 1];
    sum[2] += bgr[i + 2];
  }
  const n = bgr.length / 3;
  return [sum[0] / n, sum[1] / n, sum[2] / n];
}

/** Median spacing of consecutive timestamps, in ms. */
export function medianFrameIntervalMs(frames: DecodedFrame[]): number {
  const d = frames.slice(1).map((f, i) => f.ptsMs - frames[i].ptsMs).sort((a, b) => a - b);
  return d.length ? d[Math.floor(d.length / 2)] : NaN;
}

/**
 * Video frames of an FLV file (e.g. a relay recording) in file order, with
 * their keyframe flag and whether they are the AVC sequence header.
 * FLV: 9-byte header, then [prevTagSize u32][tag: type u8, size u24, ts u24+u8, stream u24, data].
 */
export function flvVideoTags(flv: Buffer): Array<{ keyframe: boolean; sequenceHeader: boolean; tsMs: number }> {
  const tags: Array<{ keyframe: boolean; sequenceHeader: boolean; tsMs: number }> = [];
  if (flv.length < 13 || flv.toString('latin1', 0, 3) !== 'FLV') return tags;
  let pos = flv.readUInt32BE(5) + 4;
  while (pos + 11 <= flv.length) {
    const type = flv[pos];
    const size = flv.readUIntBE(pos + 1, 3);
    const tsMs = flv.readUIntBE(pos + 4, 3) | (flv[pos + 7] << 24);
    const data = pos + 11;
    if (data + size > flv.length) break;
    if (type === 9 && size >= 2) {
      const frameType = flv[data] >> 4;
      const codec = flv[data] & 0x0f;
      const avcPacketType = codec === 7 ? flv[data + 1] : -1;
      tags.push({ keyframe: frameType === 1 && avcPacketType === 1, sequenceHeader: avcPacketType === 0, tsMs });
    }
    pos = data + size + 4;
  }
  return tags;
}
