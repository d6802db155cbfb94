// gst-skyline: the command-line face of the library. Exit codes: 0 done (also after Ctrl-C),
// 1 failed while running, 2 bad command line.
import { destination, pino } from 'pino';
import { REDACT_PATHS } from '../log.js';
import { COMMANDS, commandHelp, mainHelp, parseCommandLine, REPUBLISH, UsageError, type Parsed } from './args.js';
import { inspect } from './inspect.js';
import { republish } from './republish.js';
import { Reporter } from './status.js';

export async function main(argv: string[]): Promise<number> {
  let parsed: Parsed;
  try {
    const p = parseCommandLine(argv);
    if (p.help && argv.length === 0) return usage(new UsageError('no command given'));
    if (p.help) {
      process.stdout.write(p.command ? commandHelp(p.command) : mainHelp());
      return 0;
    }
    parsed = p as Parsed;
  } catch (err) {
    return usage(err);
  }

  // Node 20: the AWS SDK's 8-line NodeVersionSupportWarning would break the status line (the
  // README recommends Node 22+); only this command silences it, and only when not set.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // Errors reach the user as events; the library's own log (stderr) only on request.
  const logger = pino({ name: 'gst-skyline', level: process.env.SKYLINE_LOG_LEVEL ?? 'silent', redact: REDACT_PATHS }, destination(2));
  const reporter = Reporter.for(process.stdout, parsed.values.json === true);
  const ctrl = new AbortController();
  const onSignal = (): void => {
    if (ctrl.signal.aborted) process.exit(130); // a second Ctrl-C does not wait
    reporter.event('stopping', 'stopping… (Ctrl-C again to quit at once)');
    ctrl.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    if (REPUBLISH.includes(parsed.command)) return await republish({ parsed, reporter, logger, signal: ctrl.signal });
    return await inspect({ parsed, reporter, logger, signal: ctrl.signal });
  } catch (err) {
    if (err instanceof UsageError) return usage(err);
    reporter.event('failed', `failed: ${(err as Error).message}`, { error: (err as Error).message });
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function usage(err: unknown): number {
  const e = err as Error;
  const command = err instanceof UsageError ? err.command : undefined;
  const how = command ? `Usage: ${COMMANDS[command].usage}\nRun 'gst-skyline ${command} --help' for its options.` : "Run 'gst-skyline --help' for the commands.";
  process.stderr.write(`gst-skyline: ${e.message}\n${how}\n`);
  return 2;
}
