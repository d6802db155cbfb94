// The timestamps sidecar: one CSV row per encoded frame with its capture time, so a
// recording can be aligned with other recordings (as ataraxis-video-system logs them).
//
//   frame,capture_time_us,pts_us
//   0,1732176000123456,0
//
// frame: index in the video, from 0; capture_time_us: microseconds since the Unix epoch;
// pts_us: the frame's presentation time in the video, microseconds.
// Each row is written (one small synchronous write) before its frame reaches the encoder,
// so a process killed mid-recording leaves a sidecar covering every frame that survived.
import { closeSync, openSync, writeSync } from 'node:fs';

export const SIDECAR_HEADER = 'frame,capture_time_us,pts_us\n';

export class TimestampsSidecar {
  private fd: number;
  private index = 0;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'w');
    writeSync(this.fd, SIDECAR_HEADER);
  }

  add(captureMs: number, ptsNs: number): void {
    if (this.fd < 0) return;
    writeSync(this.fd, `${this.index++},${Math.round(captureMs * 1000)},${Math.round(ptsNs / 1000)}\n`);
  }

  close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }
}

export interface SidecarRow {
  frame: number;
  captureTimeUs: number;
  ptsUs: number;
}

/** Parses a sidecar's text. */
export function parseSidecar(text: string): SidecarRow[] {
  const lines = text.trim().split('\n');
  if (`${lines[0]}\n` !== SIDECAR_HEADER) throw new Error(`not a timestamps sidecar: header is ${JSON.stringify(lines[0])}`);
  return lines.slice(1).map((l) => {
    const [frame, captureTimeUs, ptsUs] = l.split(',').map(Number);
    return { frame: frame!, captureTimeUs: captureTimeUs!, ptsUs: ptsUs! };
  });
}
