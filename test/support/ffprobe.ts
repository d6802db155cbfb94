// Reading results back with real players: ffprobe for stream facts, ffmpeg to decode pixels.
import { execFile } from 'node:child_process';

function run(cmd: string, args: string[], timeoutMs = 60_000, maxBuffer = 512 * 2 ** 20): Promise<{ stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer, encoding: 'buffer', killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} failed: ${err.message}\n${stderr.toString().slice(-2000)}`));
      else resolve({ stdout, stderr: stderr.toString() });
    });
  });
}

export interface VideoProbe {
  codec: string;
  profile: string;
  width: number;
  height: number;
  /** Frames decoded (ffprobe -count_frames). */
  frames: number;
  /** Seconds, from the container or the stream. */
  duration: number;
  /** r_frame_rate as a number. */
  rate: number;
  /** r_frame_rate as ffprobe wrote it, e.g. "30000/1001". */
  rateFraction: string;
  /** avg_frame_rate as ffprobe wrote it (frames over duration). */
  avgRateFraction: string;
  pixFmt: string;
}

/** Probes the first video stream of a file or URL, decoding every frame to count them. */
export async function probeVideo(input: string, extra: string[] = [], timeoutMs = 60_000): Promise<VideoProbe> {
  const out = await run('ffprobe', [
    '-v', 'error', ...extra, '-select_streams', 'v:0', '-count_frames',
    '-show_entries', 'stream=codec_name,profile,width,height,nb_read_frames,r_frame_rate,avg_frame_rate,duration,pix_fmt:format=duration',
    '-of', 'json', input,
  ], timeoutMs);
  const j = JSON.parse(out.stdout.toString());
  const s = j.streams?.[0];
  if (!s) throw new Error(`no video stream in ${input}`);
  const [n, d] = String(s.r_frame_rate).split('/').map(Number);
  return {
    codec: s.codec_name,
    profile: s.profile,
    width: s.width,
    height: s.height,
    frames: Number(s.nb_read_frames),
    duration: Number(j.format?.duration ?? s.duration),
    rate: n! / (d || 1),
    rateFraction: String(s.r_frame_rate),
    avgRateFraction: String(s.avg_frame_rate),
    pixFmt: s.pix_fmt,
  };
}

export interface FrameInfo {
  /** Presentation time, seconds. */
  time: number;
  keyframe: boolean;
}

/** Presentation time and keyframe flag of every video frame, in order (every frame decoded). */
export async function frameInfo(input: string, extra: string[] = []): Promise<FrameInfo[]> {
  const out = await run('ffprobe', ['-v', 'error', ...extra, '-select_streams', 'v:0', '-show_entries', 'frame=pts_time,best_effort_timestamp_time,key_frame', '-of', 'json', input]);
  const frames = JSON.parse(out.stdout.toString()).frames as Array<{ pts_time?: string; best_effort_timestamp_time?: string; key_frame: number }>;
  return frames.map((f) => ({ time: Number(f.pts_time ?? f.best_effort_timestamp_time), keyframe: f.key_frame === 1 }));
}

/** Presentation timestamps (seconds) of every video frame, in order. */
export async function frameTimes(input: string, extra: string[] = []): Promise<number[]> {
  return (await frameInfo(input, extra)).map((f) => f.time);
}

/** Decodes everything with ffmpeg; returns its error output (empty when the stream decodes cleanly). */
export async function decodeErrors(input: string): Promise<string> {
  try {
    return (await run('ffmpeg', ['-v', 'error', '-i', input, '-f', 'null', '-'])).stderr.trim();
  } catch (err) {
    return (err as Error).message;
  }
}

/** Decodes frames to packed RGB24 (`count` frames at most). */
export async function decodeRgb(input: string, opts: { count?: number; extra?: string[]; timeoutMs?: number } = {}): Promise<{ frames: Buffer[]; width: number; height: number }> {
  const probe = await probeVideo(input, opts.extra ?? []);
  const args = ['-v', 'error', ...(opts.extra ?? []), '-i', input];
  if (opts.count) args.push('-frames:v', String(opts.count));
  // passthrough: one output per decoded frame (no duplicates to fill timing gaps).
  args.push('-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-');
  const raw = (await run('ffmpeg', args, opts.timeoutMs ?? 60_000)).stdout;
  const size = probe.width * probe.height * 3;
  const frames: Buffer[] = [];
  for (let off = 0; off + size <= raw.length; off += size) frames.push(raw.subarray(off, off + size));
  return { frames, width: probe.width, height: probe.height };
}

/** Mean R, G, B over a centred square of `size` pixels (avoids edges and chroma bleed). */
export function centreColour(rgb: Buffer, width: number, height: number, size = 16): [number, number, number] {
  let r = 0, g = 0, b = 0, n = 0;
  const x0 = Math.floor(width / 2 - size / 2), y0 = Math.floor(height / 2 - size / 2);
  for (let y = y0; y < y0 + size; y++) {
    for (let x = x0; x < x0 + size; x++) {
      const i = (y * width + x) * 3;
      r += rgb[i]!; g += rgb[i + 1]!; b += rgb[i + 2]!; n++;
    }
  }
  return [r / n, g / n, b / n];
}

export interface PacketInfo {
  /** Presentation time, ms (container timestamps as ffprobe reads them). */
  ptsMs: number;
  size: number;
  keyframe: boolean;
}

/** Every video packet as ffprobe demuxes it (no decoding): timestamps, sizes, key flags. */
export async function packets(input: string): Promise<PacketInfo[]> {
  const out = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,size,flags', '-of', 'json', input]);
  const j = JSON.parse(out.stdout.toString()) as { packets?: Array<{ pts_time?: string; size?: string; flags?: string }> };
  return (j.packets ?? []).map((p) => ({ ptsMs: Math.round(Number(p.pts_time) * 1000), size: Number(p.size), keyframe: (p.flags ?? '').includes('K') }));
}

/**
 * The frame rate the H.264 stream itself declares (its SPS timing info, written by the encoder
 * from the caps), not the container's timestamps: the video track copied out as an Annex B
 * elementary stream to `scratch` and probed there.
 */
export async function elementaryStreamRate(input: string, scratch: string): Promise<string> {
  await run('ffmpeg', ['-v', 'error', '-y', '-i', input, '-map', '0:v:0', '-c', 'copy', '-bsf:v', 'h264_mp4toannexb', '-f', 'h264', scratch]);
  const out = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=r_frame_rate', '-of', 'csv=p=0', scratch]);
  return out.stdout.toString().trim();
}
