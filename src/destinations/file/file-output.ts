// What recording to a file needs whoever encodes: the container from the path, the path of
// each session, a check that the file can be written, and the muxer tail that keeps a file
// playable when the process dies. FileSkyLine and FileDestination share these.
import { mkdir, open, stat, unlink } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';

export type Container = 'mp4' | 'mkv';

/** `container` when given (checked), else from the extension (.mkv -> mkv), else mp4. */
export function containerOf(path: string, container?: Container): Container {
  const c = container ?? (extname(path).toLowerCase() === '.mkv' ? 'mkv' : 'mp4');
  if (c !== 'mp4' && c !== 'mkv') throw new RangeError(`container must be 'mp4' or 'mkv', got ${JSON.stringify(c)}`);
  return c;
}

/** Session 1 writes `template`; later ones "-2", "-3", … before the extension, or "{session}" replaced. */
export function sessionPath(template: string, index: number): string {
  if (template.includes('{session}')) return template.split('{session}').join(String(index));
  if (index === 1) return template;
  const ext = extname(template);
  return `${template.slice(0, template.length - ext.length)}-${index}${ext}`;
}

/** The sidecar beside `path`. */
export function sidecarPath(path: string): string {
  return `${path}.timestamps.csv`;
}

/**
 * The muxer and file sink after `h264parse ! video/x-h264,stream-format=avc,alignment=au`;
 * the sink is named "filesink", its location set as a property (a path may hold spaces or '!').
 *
 * Fragmented MP4 (moov up front, a fragment per fragmentMs) plays up to its last complete
 * fragment when the writer dies. MKV is written non-streamable: clusters go out as they close
 * (a killed file plays up to its last one), and at EOS matroskamux seeks back into the file
 * (filesink is seekable) to fill in Duration, SeekHead and Cues, which a streamable file never
 * gets. filesink unbuffered so each fragment reaches the kernel as the muxer finishes it.
 */
export function fileMuxerTail(container: Container, fragmentMs: number): string {
  const mux = container === 'mp4' ? `mp4mux fragment-duration=${fragmentMs} streamable=true` : 'matroskamux streamable=false';
  return `${mux} ! filesink name=filesink sync=false buffer-mode=unbuffered`;
}

/**
 * Creates the missing parent directories of `path` and makes sure the file (and its sidecar) can be
 * created there, by creating them; a file that did not exist before is removed again. Throws an
 * error naming the absolute path otherwise.
 */
export async function prepareFile(path: string, sidecar: boolean): Promise<void> {
  const abs = resolve(path);
  try {
    await mkdir(dirname(abs), { recursive: true });
  } catch (err) {
    throw new Error(`cannot record to ${abs}: its directory ${dirname(abs)} cannot be created (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  for (const file of sidecar ? [abs, sidecarPath(abs)] : [abs]) {
    const existed = await stat(file).then(() => true, () => false);
    try {
      await (await open(file, 'a')).close();
    } catch (err) {
      throw new Error(`cannot record to ${abs}: ${file} cannot be written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    if (!existed) await unlink(file).catch(() => undefined);
  }
}
