/**
 * Real RTSP players for the tests: ffmpeg/ffprobe and GStreamer rtspsrc, each decoding a given number
 * of frames and reporting what it decoded. Every child has a hard time limit and is killed on it.
 */
import { spawn } from 'node:child_process';

export interface PlayResult {
  /** Frames decoded at the expected size (raw bytes / frame bytes). */
  frames: number;
  /** Raw bytes received: a multiple of the frame size when every frame had the right size. */
  bytes: number;
  code: number | null;
  stderr: string;
  timedOut: boolean;
}

export interface PlayOptions {
  transport: 'udp' | 'tcp';
  frames: number;
  width: number;
  height: number;
  timeoutMs?: number;
  /** Credentials for rtspsrc (user-id/user-pw); for ffmpeg put them in the URL. */
  user?: string;
  password?: string;
}

function runChild(cmd: string, args: string[], frameBytes: number, timeoutMs: number): Promise<PlayResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let bytes = 0;
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => (bytes += d.length));
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 200_000) stderr += d;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ frames: Math.floor(bytes / frameBytes), bytes, code, stderr, timedOut });
    });
  });
}

/** ffmpeg reads the stream and writes N decoded frames as 8-bit grey. */
export function ffmpegPlay(url: string, o: PlayOptions): Promise<PlayResult> {
  const args = [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-rtsp_transport', o.transport, '-timeout', '10000000',
    '-i', url,
    '-frames:v', String(o.frames), '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1',
  ];
  return runChild('ffmpeg', args, o.width * o.height, o.timeoutMs ?? 30_000);
}

/** GStreamer rtspsrc ! rtph264depay ! avdec_h264, N frames as GRAY8 (width should be a multiple of 4). */
export function gstPlay(url: string, o: PlayOptions): Promise<PlayResult> {
  const auth = o.user !== undefined ? ` user-id=${o.user} user-pw=${o.password ?? ''}` : '';
  const launch =
    `rtspsrc location=${url} protocols=${o.transport === 'tcp' ? 'tcp' : 'udp'} latency=200${auth} ! rtph264depay ! avdec_h264 ! ` +
    `videoconvert ! video/x-raw,format=GRAY8 ! identity eos-after=${o.frames + 1} ! fdsink fd=1`;
  return runChild('gst-launch-1.0', ['-q', ...launch.split(' ')], o.width * o.height, o.timeoutMs ?? 30_000);
}

export interface ProbedFrame {
  width: number;
  height: number;
  keyFrame: boolean;
  pictType: string;
}

/** ffprobe decodes the first N frames and reports each frame's size and type. */
export async function ffprobeFrames(url: string, transport: 'udp' | 'tcp', frames: number, timeoutMs = 30_000): Promise<{ frames: ProbedFrame[]; stderr: string; code: number | null }> {
  const args = [
    '-hide_banner', '-loglevel', 'error', '-rtsp_transport', transport, '-timeout', '10000000',
    '-select_streams', 'v:0', '-show_frames', '-show_entries', 'frame=width,height,key_frame,pict_type',
    '-read_intervals', `%+#${frames}`, '-of', 'csv=p=0', url,
  ];
  return new Promise((resolve) => {
    const child = spawn('ffprobe', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 200_000) stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const list = out
        .split('\n')
        .filter((l) => l.trim().length > 0)
        .map((l) => {
          // csv fields in the order ffprobe prints them: key_frame,width,height,pict_type
          const f = l.split(',');
          const num = f.filter((x) => /^\d+$/.test(x));
          return { keyFrame: f[0] === '1', width: Number(num[1]), height: Number(num[2]), pictType: f.find((x) => /^[IPB?]$/.test(x)) ?? '?' };
        });
      resolve({ frames: list, stderr, code });
    });
  });
}

/** Decoder complaints that mean a client got frames it could not decode. */
export const DECODE_ERRORS = /non-existing PPS|no frame!|decode_slice_header error|error while decoding|concealing|missing picture|Invalid NAL/i;
