/**
 * Decoding a stretch of the ring for past() and screenshot(): a decoder of its own (pipelines
 * are pooled), the units pushed a few at a time, EOS so the decoder hands out what it holds.
 */
import { Decoder, type DecodedFrame, type DecoderOptions } from './decoder.js';
import { SourceError } from './errors.js';
import type { SourceFrame } from './live-source-types.js';
import type { EncodedUnit } from './ring-buffer.js';

const MAX_IN_FLIGHT = 8;
/** A history decode gives up after this long without a frame. */
const STALL_MS = 5000;

export function toFrame(f: DecodedFrame, u: EncodedUnit): SourceFrame {
  return { data: f.data, width: f.width, height: f.height, format: f.format, timestamp: u.timestampMs, pts: u.ptsNs / 1e6, keyframe: u.keyframe, seq: u.seq };
}

/** One history decode: push the units, drain, collect the frames; gives up after 5 s without progress. */
export async function decodeUnits(options: DecoderOptions, units: EncodedUnit[]): Promise<SourceFrame[]> {
  const d = new Decoder(options);
  await d.start();
  const byPts = new Map(units.map((u) => [u.ptsNs, u]));
  const frames: SourceFrame[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let i = 0;
      let drained = false;
      let progress = Date.now();
      const stall = setInterval(() => {
        if (Date.now() - progress > STALL_MS) finish();
      }, 250);
      const finish = (err?: Error) => {
        clearInterval(stall);
        if (err) reject(err);
        else resolve();
      };
      const pump = () => {
        while (i < units.length && d.inFlight < MAX_IN_FLIGHT) {
          const u = units[i++]!;
          d.push(u.data, u.ptsNs);
        }
        if (i === units.length && !drained) {
          drained = true;
          d.drain();
        }
        if (drained && d.inFlight === 0) finish();
      };
      d.on('frame', (f) => {
        progress = Date.now();
        const u = byPts.get(f.ptsNs);
        if (u) frames.push(toFrame(f, u));
        pump();
      });
      d.on('failed', (reason) => finish(new SourceError('ERROR', `decoding failed: ${reason}`)));
      pump();
    });
  } finally {
    d.stop();
  }
  // Presentation order (B-frames are decoded out of it).
  return frames.sort((a, b) => a.pts - b.pts);
}
