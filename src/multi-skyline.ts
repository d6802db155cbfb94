/**
 * MultiSkyLine: a SkyLine whose only outputs are its destinations. One encoder feeds them all:
 *
 *   const sky = new MultiSkyLine({ destinations: [new FileDestination({ path: 'a.mp4' }), new RtspDestination()] });
 *   await sky.startStreaming({ fps: 30 });
 *   await sky.attach(new FileDestination({ path: 'clip.mp4' }), { preRollMs: 5000 });
 */
import { SkyLine, type SkyLineOptions } from './skyline.js';

export type MultiSkyLineOptions = SkyLineOptions;

export class MultiSkyLine extends SkyLine {
  constructor(options: MultiSkyLineOptions = {}) {
    super(options);
  }
}
