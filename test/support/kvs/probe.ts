/** ffprobe/ffmpeg read-back of MKV files written by the KVS tests. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ProbedVideo {
  codec: string;
  width: number;
  height: number;
  /** Decoded frames, in presentation order. */
  frames: { ptsMs: number; keyframe: boolean }[];
}

/** Decodes every frame with ffprobe and reports the stream's codec, size and frame timestamps. */
export async function probeVideo(file: string): Promise<ProbedVideo> {
  const { stdout } = await run(
    'ffprobe',
    ['-v', 'error', '-select_streams', 'v:0', '-show_streams', '-show_frames', '-of', 'json', file],
    { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 },
  );
  const j = JSON.parse(stdout) as {
    streams: { codec_name: string; width: number; height: number }[];
    frames: { pts?: number; pts_time?: string; best_effort_timestamp_time?: string; key_frame: number }[];
  };
  const s = j.streams[0];
  if (!s) throw new Error(`no video stream in ${file}`);
  return {
    codec: s.codec_name,
    width: s.width,
    height: s.height,
    frames: j.frames.map((f) => ({
      ptsMs: Math.round(Number(f.pts_time ?? f.best_effort_timestamp_time) * 1000),
      keyframe: f.key_frame === 1,
    })),
  };
}

/** Full decode with ffmpeg; returns its error output (empty when the stream decodes cleanly). */
export async function decodeErrors(file: string): Promise<string> {
  try {
    const { stderr } = await run('ffmpeg', ['-v', 'error', '-i', file, '-f', 'null', '-'], { timeout: 60_000 });
    return stderr.trim();
  } catch (err) {
    return String((err as { stderr?: string }).stderr ?? err);
  }
}
