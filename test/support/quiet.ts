// A pino logger that writes into memory: tests keep output clean and can search what was logged.
import { pino, type Logger } from 'pino';
import { Writable } from 'node:stream';
import { REDACT_PATHS } from '../../src/log.js';

export function captureLogger(level = 'debug'): { logger: Logger; lines: string[]; text: () => string } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { logger: pino({ level, redact: REDACT_PATHS }, stream), lines, text: () => lines.join('') };
}
