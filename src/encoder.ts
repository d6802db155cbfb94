// H.264 encoder choice and its gst-launch fragment. 'auto' prefers a hardware encoder
// that exists and actually encodes here, then x264enc, then openh264enc.
import { hasElement, pipelineWorks } from './gst/registry.js';

export type EncoderName =
  | 'x264enc' | 'openh264enc' | 'nvh264enc' | 'vaapih264enc' | 'vah264enc' | 'qsvh264enc' | 'v4l2h264enc';

export interface EncoderSettings {
  /** Target bitrate in kbit/s. */
  bitrate: number;
  /** Frames between keyframes. */
  keyframeInterval: number;
  /** x264 speed preset (ultrafast … veryslow); ignored by other encoders. */
  speedPreset: string;
  /**
   * x264 threads work on several frames at once instead of slices of one frame: both cores
   * busy at 1080p, at the price of a few frames of latency (BENCHMARKS.md, figure 2).
   * Ignored by other encoders. Default false (slices: a frame leaves as soon as it is in).
   */
  frameThreads?: boolean;
}

const HARDWARE: EncoderName[] = ['nvh264enc', 'vah264enc', 'vaapih264enc', 'qsvh264enc', 'v4l2h264enc'];
const SOFTWARE: EncoderName[] = ['x264enc', 'openh264enc'];
export const ENCODERS: readonly EncoderName[] = [...HARDWARE, ...SOFTWARE];

const X264_PRESETS = ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow', 'slower', 'veryslow', 'placebo'];

export function validateEncoderSettings(s: EncoderSettings): void {
  if (!Number.isFinite(s.bitrate) || s.bitrate <= 0) throw new RangeError(`bitrate must be a positive number of kbit/s, got ${s.bitrate}`);
  if (!Number.isInteger(s.keyframeInterval) || s.keyframeInterval < 1) {
    throw new RangeError(`keyframeInterval must be a positive integer number of frames, got ${s.keyframeInterval}`);
  }
  if (!X264_PRESETS.includes(s.speedPreset)) {
    throw new RangeError(`speedPreset must be one of ${X264_PRESETS.join(', ')}, got ${JSON.stringify(s.speedPreset)}`);
  }
}

/** gst-launch fragment for `name` with the settings (enum values go in the string: the binding cannot set them). */
export function encoderFragment(name: EncoderName, s: EncoderSettings): string {
  const kbps = Math.round(s.bitrate);
  const gop = s.keyframeInterval;
  switch (name) {
    case 'x264enc':
      // zerolatency: no lookahead and no B-frames, so each frame leaves as it goes in. Its
      // sliced threads keep one frame in flight, and only ~1.2 of 2 cores busy at 1080p.
      return `x264enc name=encoder tune=zerolatency speed-preset=${s.speedPreset} bitrate=${kbps} key-int-max=${gop} bframes=0${s.frameThreads ? ' sliced-threads=false' : ''}`;
    case 'openh264enc':
      return `openh264enc name=encoder bitrate=${kbps * 1000} gop-size=${gop} rate-control=bitrate complexity=low`;
    case 'nvh264enc':
      return `nvh264enc name=encoder bitrate=${kbps} gop-size=${gop} bframes=0 zerolatency=true rc-mode=cbr`;
    case 'vah264enc':
      return `vah264enc name=encoder bitrate=${kbps} key-int-max=${gop} b-frames=0 rate-control=cbr`;
    case 'vaapih264enc':
      return `vaapih264enc name=encoder bitrate=${kbps} keyframe-period=${gop} max-bframes=0 rate-control=cbr`;
    case 'qsvh264enc':
      return `qsvh264enc name=encoder bitrate=${kbps} gop-size=${gop} b-frames=0 rate-control=cbr`;
    case 'v4l2h264enc':
      return `v4l2h264enc name=encoder extra-controls=controls,video_bitrate=${kbps * 1000},h264_i_frame_period=${gop}`;
  }
}

/** Resolves 'auto' (or checks an explicit choice) to an encoder that exists here. */
export async function chooseEncoder(wanted: EncoderName | 'auto', s: EncoderSettings): Promise<EncoderName> {
  if (wanted !== 'auto') {
    if (!ENCODERS.includes(wanted)) throw new RangeError(`encoder must be 'auto' or one of ${ENCODERS.join(', ')}, got ${JSON.stringify(wanted)}`);
    if (!(await hasElement(wanted))) throw new Error(`encoder ${wanted} is not installed (GStreamer element not found)`);
    return wanted;
  }
  for (const name of HARDWARE) {
    if ((await hasElement(name)) && (await pipelineWorks(encoderFragment(name, s)))) return name;
  }
  for (const name of SOFTWARE) {
    if (await hasElement(name)) return name;
  }
  throw new Error('no H.264 encoder found: install gstreamer1.0-plugins-ugly (x264enc) or gstreamer1.0-plugins-bad (openh264enc)');
}
