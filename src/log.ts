// Logging: pino, with every known secret scrubbed from what we write. Secrets are
// registered by value (stream keys, passwords, AWS keys) so they are caught wherever
// they appear, including inside GStreamer's own error texts.
import { pino, type Logger } from 'pino';

/** pino redaction paths for option objects that may be logged whole. */
export const REDACT_PATHS = [
  'password', '*.password', 'secretAccessKey', '*.secretAccessKey', 'sessionToken', '*.sessionToken',
  'accessKeyId', '*.accessKeyId', 'streamKey', '*.streamKey', 'credentials', '*.credentials', 'auth', '*.auth',
  'authorization', '*.authorization', 'headers.authorization', 'headers["x-amz-security-token"]',
];

export function defaultLogger(): Logger {
  return pino({ name: 'gst-skyline', level: process.env.SKYLINE_LOG_LEVEL ?? 'info', redact: REDACT_PATHS });
}

export class Redactor {
  private readonly secrets = new Set<string>();

  /** Registers a secret; strings shorter than 4 characters are ignored (they would mask ordinary text). */
  add(secret: string | undefined): void {
    if (secret && secret.length >= 4) {
      this.secrets.add(secret);
      // Also its URL-encoded form, as it appears inside URLs.
      const enc = encodeURIComponent(secret);
      if (enc !== secret) this.secrets.add(enc);
    }
  }

  scrub(text: string): string {
    let out = text;
    for (const s of this.secrets) if (out.includes(s)) out = out.split(s).join('****');
    return out;
  }

  /** A copy of `err` whose message and stack carry no secret. */
  scrubError<E extends Error>(err: E): E {
    err.message = this.scrub(err.message);
    if (err.stack) err.stack = this.scrub(err.stack);
    return err;
  }
}
