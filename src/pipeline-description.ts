// The gst-launch description of a session's pipeline: raw frames in through appsrc,
// scaled and converted to I420, encoded to H.264, parsed, then the tap back into Node.
import { encoderFragment, type EncoderName, type EncoderSettings } from './encoder.js';
import { layoutOf, rawCaps } from './frame.js';
import { TAP_TAIL } from './delivery/tap.js';

/** Buffers allowed inside appsrc at once: enough to keep the encoder busy, little latency. */
export const APPSRC_DEPTH = 2;

export interface PipelineShape {
  width: number;
  height: number;
  /** GStreamer fraction, e.g. "30000/1001". */
  framerate: string;
  encoder: EncoderName;
}

export function describePipeline(s: PipelineShape, settings: EncoderSettings): string {
  const caps = rawCaps(layoutOf('BGR', s.width, s.height), s.framerate);
  // Constrained baseline: what every player, browser and ingest service decodes.
  const profile = s.encoder === 'x264enc' ? ',profile=constrained-baseline' : '';
  return [
    `appsrc name=src is-live=true format=time do-timestamp=false block=false max-buffers=${APPSRC_DEPTH * 4} caps=${caps}`,
    'videoscale n-threads=0',
    'videoconvert n-threads=0 dither=none',
    `video/x-raw,format=I420,width=${s.width},height=${s.height},framerate=${s.framerate},pixel-aspect-ratio=1/1`,
    encoderFragment(s.encoder, settings),
    `video/x-h264${profile}`,
    // SPS/PPS before every IDR: late joiners and new connections decode at once.
    'h264parse name=parse config-interval=-1',
    'video/x-h264,stream-format=byte-stream,alignment=au',
    TAP_TAIL,
  ].join(' ! ');
}
