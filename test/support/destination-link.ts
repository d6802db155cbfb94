// A DestinationLink as a producer gives one, for testing destinations on their own: a
// scrubbing logger into memory (as a SkyLine's), and a count of keyframe requests.
import type { DestinationLink } from '../../src/destinations/destination.js';
import { Redactor, scrubbing } from '../../src/log.js';
import { captureLogger } from './quiet.js';

export interface TestLink {
  link: DestinationLink;
  /** Everything logged, one JSON line each. */
  text(): string;
  keyframeRequests: number;
}

export function testLink(level = 'debug'): TestLink {
  const cap = captureLogger(level);
  const redactor = new Redactor();
  const t: TestLink = {
    text: cap.text,
    keyframeRequests: 0,
    link: {
      requestKeyframe: () => {
        t.keyframeRequests++;
      },
      log: scrubbing(cap.logger, redactor),
      addSecret: (secret) => redactor.add(secret),
    },
  };
  return t;
}
