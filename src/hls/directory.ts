/**
 * Writes an HLS stream into a directory for any web server or a CDN origin to serve: each file
 * is written under a temporary name and renamed into place, so a reader never sees half a part
 * or half a playlist; the playlist is written after the files it names, and files that left
 * the window are deleted. Writes run one at a time in order; playlist versions that a slow
 * disk has not reached yet are folded into the latest.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LiveWindow } from './live-window.js';
import { PLAYLIST_NAME } from './routes.js';

export class DirectoryWriter {
  private chain: Promise<void> = Promise.resolve();
  /**
   * The queued playlist write that newer versions may still replace. A file queued after it
   * seals it: a newer playlist may name that file, so it is written in a write of its own, after it.
   */
  private playlist: { text: string } | undefined;
  private seq = 0;
  private readonly detach: () => void;

  constructor(readonly dir: string, window: LiveWindow, private readonly onError: (err: Error) => void, onBytes: (n: number) => void) {
    const onFile = (name: string, chunks: readonly Buffer[]) => {
      // A segment is its parts again: only parts and init are counted.
      if (!/-s\d+\.m4s$/.test(name)) onBytes(chunks.reduce((n, c) => n + c.length, 0));
      this.playlist = undefined;
      this.enqueue(() => this.atomic(name, chunks));
    };
    const onRemoved = (names: string[]) => this.enqueue(async () => {
      await Promise.all(names.map((n) => rm(join(this.dir, n), { force: true })));
    });
    const onPlaylist = (text: string) => {
      if (this.playlist) {
        this.playlist.text = text;
        return;
      }
      const queued = { text };
      this.playlist = queued;
      this.enqueue(async () => {
        if (this.playlist === queued) this.playlist = undefined;
        await this.atomic(PLAYLIST_NAME, [Buffer.from(queued.text)]);
      });
    };
    window.on('file', onFile);
    window.on('removed', onRemoved);
    window.on('playlist', onPlaylist);
    this.detach = () => {
      window.off('file', onFile);
      window.off('removed', onRemoved);
      window.off('playlist', onPlaylist);
    };
  }

  static async create(dir: string, window: LiveWindow, onError: (err: Error) => void, onBytes: (n: number) => void): Promise<DirectoryWriter> {
    await mkdir(dir, { recursive: true });
    return new DirectoryWriter(dir, window, onError, onBytes);
  }

  /** Stops listening and resolves once every queued write is on disk. */
  async close(): Promise<void> {
    this.detach();
    await this.chain;
  }

  private enqueue(op: () => Promise<void>): void {
    this.chain = this.chain.then(op).catch((err: Error) => this.onError(err));
  }

  private async atomic(name: string, chunks: readonly Buffer[]): Promise<void> {
    const tmp = join(this.dir, `.${name}.${process.pid}.${this.seq++}.tmp`);
    await writeFile(tmp, chunks);
    await rename(tmp, join(this.dir, name));
  }
}
