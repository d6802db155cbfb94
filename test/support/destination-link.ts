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
  /** What addSecret() was given. */
  secrets: string[];
}

/**
 * `scrub: false` logs what the destination logs as it is, so a test sees a secret the
 * destination itself let out; a producer's link would have masked it.
 */
export function testLink(options: { level?: string; scrub?: boolean } = {}): TestLink {
  const cap = captureLogger(options.level ?? 'debug');
  const redactor = new Redactor();
  const t: TestLink = {
    text: cap.text,
    keyframeRequests: 0,
    secrets: [],
    link: {
      requestKeyframe: () => {
        t.keyframeRequests++;
      },
      log: options.scrub === false ? cap.logger : scrubbing(cap.logger, redactor),
      addSecret: (secret) => {
        if (secret !== undefined) t.secrets.push(secret);
        redactor.add(secret);
      },
    },
  };
  return t;
}
