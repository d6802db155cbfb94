// Logging: pino, with every known secret scrubbed from what we write. Secrets are
// registered by value (stream keys, passwords, AWS keys) so they are caught wherever
// they appear, including inside GStreamer's own error texts.
import { destination, pino, symbols as pinoSymbols, type Logger } from 'pino';

/** pino redaction paths for option objects that may be logged whole. */
export const REDACT_PATHS = [
  'password', '*.password', 'secretAccessKey', '*.secretAccessKey', 'sessionToken', '*.sessionToken',
  'accessKeyId', '*.accessKeyId', 'streamKey', '*.streamKey', 'credentials', '*.credentials', 'auth', '*.auth',
  'authorization', '*.authorization', 'headers.authorization', 'headers["x-amz-security-token"]',
];

/**
 * The logger used when none is given. A library lives inside someone else's program: its
 * stdout belongs to that program (often data, or a CLI's output), so we write to stderr, and
 * only what needs attention ('warn' and up); SKYLINE_LOG_LEVEL=info|debug shows more.
 */
export function defaultLogger(): Logger {
  return pino({ name: 'gst-skyline', level: process.env.SKYLINE_LOG_LEVEL ?? 'warn', redact: REDACT_PATHS }, destination(2));
}

export class Redactor {
  /** Secret -> what is shown instead. An ES private field: util.inspect and JSON.stringify never show it. */
  readonly #secrets = new Map<string, string>();
  /** Secrets longest first, so one that contains another is replaced whole. */
  #ordered: Array<[string, string]> = [];

  /**
   * Registers a secret, shown as `shownAs` (default ****) wherever it appears; e.g. a URL with a
   * stream key can be shown as its masked form. Whatever its length: what is added is known to be
   * a secret (a password "abc" is one), and masking a short word too is the lesser harm.
   */
  add(secret: string | undefined, shownAs = '****'): void {
    if (!secret) return;
    this.#secrets.set(secret, shownAs);
    // Also its URL-encoded form, as it appears inside URLs.
    const enc = encodeURIComponent(secret);
    if (enc !== secret) this.#secrets.set(enc, shownAs);
    // And its JSON-escaped form, as it appears inside a serialized log line.
    const json = JSON.stringify(secret).slice(1, -1);
    if (json !== secret) this.#secrets.set(json, shownAs);
    this.#ordered = [...this.#secrets].sort((a, b) => b[0].length - a[0].length);
  }

  scrub(text: string): string {
    let out = text;
    for (const [s, shown] of this.#ordered) if (out.includes(s)) out = out.split(s).join(shown);
    return out;
  }

  /** `err` with message and stack scrubbed of every secret (changed in place and returned). */
  scrubError<E extends Error>(err: E): E {
    err.message = this.scrub(err.message);
    if (err.stack) err.stack = this.scrub(err.stack);
    return err;
  }
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
const { hooksSym } = pinoSymbols;

type Hooks = { streamWrite?: (line: string) => string } & Record<string, unknown>;

/**
 * A child of `logger` whose every line, and every line of its own children at any depth,
 * is scrubbed of the redactor's secrets just before it is written. Scrubbing the serialized
 * line (pino's streamWrite hook) catches a secret wherever it sits: message, bindings,
 * nested fields, error messages and stacks, whatever a component logs through a child.
 * The hook is set on this child only (pino children inherit it through their prototype),
 * so the user's own logger is left as it was.
 */
export function scrubbing(logger: Logger, redactor: Redactor): Logger {
  const child = logger.child({});
  const own = child as unknown as Record<symbol, Hooks | undefined>;
  const hooks = own[hooksSym];
  if (hooks && typeof hooks === 'object') {
    const before = hooks.streamWrite;
    own[hooksSym] = {
      ...hooks,
      streamWrite: (line: string) => redactor.scrub(before ? before(line) : line),
    };
    return child;
  }
  // Not a pino logger we know the inside of: wrap its methods, and its children's, recursively.
  return wrapMethods(child, redactor);
}

function wrapMethods(logger: Logger, redactor: Redactor): Logger {
  return new Proxy(logger, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (prop === 'child' && typeof v === 'function') {
        return (...args: unknown[]) =>
          wrapMethods((v as (...a: unknown[]) => Logger).apply(target, args.map((a) => scrubValue(a, redactor, 8))), redactor);
      }
      if ((LEVELS as readonly (string | symbol)[]).includes(prop) && typeof v === 'function') {
        return (...args: unknown[]) => (v as (...a: unknown[]) => void).apply(target, args.map((a) => scrubValue(a, redactor, 8)));
      }
      return v;
    },
  });
}

/** Strings, errors, and string fields of objects and arrays with secrets scrubbed. */
function scrubValue(v: unknown, r: Redactor, depth: number): unknown {
  if (typeof v === 'string') return r.scrub(v);
  // pino's err serializer shape, stack kept: an error logged without its stack cannot be traced.
  if (v instanceof Error) return { type: v.name, message: r.scrub(v.message), stack: r.scrub(v.stack ?? '') };
  if (depth > 0 && v !== null && typeof v === 'object' && !Buffer.isBuffer(v)) {
    const out: Record<string, unknown> = Array.isArray(v) ? [] as unknown as Record<string, unknown> : {};
    for (const [k, x] of Object.entries(v)) out[k] = scrubValue(x, r, depth - 1);
    return out;
  }
  return v;
}
