// Counts the video frames in a file with ffprobe (a check that every contender really
// encoded everything it was given).
import { execFile } from 'node:child_process';

export function countFrames(path: string): Promise<number> {
  return new Promise((resolve) => {
    execFile(
      'ffprobe',
      ['-v', 'error', '-select_streams', 'v:0', '-count_packets', '-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', path],
      { timeout: 60_000 },
      (err, stdout) => resolve(err ? NaN : Number.parseInt(stdout.trim(), 10)),
    );
  });
}
