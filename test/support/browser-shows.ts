// A real Chromium opens a preview page and waits until it has shown pictures.
import { launchBrowser, pageStatus } from './browser.js';

export type PageStatus = Awaited<ReturnType<typeof pageStatus>>;

/**
 * Opens `url` in headless Chromium; resolves with the page status once `frames` pictures were
 * shown and `whileOpen` (checks that need the page still watching) has resolved.
 */
export async function browserShows(url: string, frames = 10, whileOpen: () => Promise<unknown> = async () => undefined, timeoutMs = 60_000): Promise<PageStatus> {
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    await page.goto(url);
    const end = Date.now() + timeoutMs;
    for (;;) {
      const s = await pageStatus(page);
      if (s.framesShown >= frames) {
        await whileOpen();
        return s;
      }
      if (Date.now() > end) throw new Error(`the page at ${url} showed ${s.framesShown} of ${frames} pictures in ${timeoutMs} ms: ${JSON.stringify(s)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await browser.close();
  }
}
