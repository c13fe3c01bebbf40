/**
 * Shared pieces of the browser tests: Debian chromium with a fake microphone fed from a
 * WAV, the settings the Python test passes in, and in-page probes (agent audio level,
 * microphone tracks) that check what a user would hear and see.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from "playwright-core";

export interface E2eEnv {
  vocableUrl: string;
  exampleUrl: string;
  adminEmail: string;
  adminPassword: string;
  micWav: string;
  outDir: string;
  chromiumPath: string;
}

function need(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (the Python e2e test sets it)`);
  return value;
}

export function env(): E2eEnv {
  return {
    vocableUrl: need("E2E_VOCABLE_URL"),
    exampleUrl: process.env.E2E_EXAMPLE_URL ?? "",
    adminEmail: process.env.E2E_ADMIN_EMAIL ?? "",
    adminPassword: process.env.E2E_ADMIN_PASSWORD ?? "",
    micWav: need("E2E_MIC_WAV"),
    outDir: need("E2E_OUT"),
    chromiumPath: process.env.E2E_CHROMIUM ?? "/usr/bin/chromium",
  };
}

/** Chromium with a fake microphone that plays `wav` once, then silence. */
export async function launch(e: E2eEnv): Promise<Browser> {
  return chromium.launch({
    executablePath: e.chromiumPath,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-background-networking",
      "--use-fake-ui-for-media-stream",
      "--use-fake-device-for-media-stream",
      `--use-file-for-fake-audio-capture=${e.micWav}%noloop`,
      "--autoplay-policy=no-user-gesture-required",
    ],
  });
}

/** A page that records every microphone track it is given, to check they are released. */
export async function newCallPage(
  browser: Browser,
): Promise<{ context: BrowserContext; page: Page; cspViolations: string[]; consoleErrors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  await context.addInitScript(() => {
    const tracks: MediaStreamTrack[] = [];
    (window as unknown as { __micTracks: MediaStreamTrack[] }).__micTracks = tracks;
    const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = async (constraints) => {
      const stream = await original(constraints);
      tracks.push(...stream.getAudioTracks());
      return stream;
    };
  });
  const page = await context.newPage();
  // what the Content-Security-Policy refused: a page that works must need nothing refused
  const cspViolations: string[] = [];
  const consoleErrors: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    console.log(`[page error] ${msg.text()}`);
    consoleErrors.push(msg.text());
    if (msg.text().includes("Content Security Policy")) cspViolations.push(msg.text());
  });
  page.on("pageerror", (error) => consoleErrors.push(`uncaught: ${error.message}`));
  return { context, page, cspViolations, consoleErrors };
}

export async function screenshot(page: Page, e: E2eEnv, name: string): Promise<void> {
  const dir = join(e.outDir, "screenshots");
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}

/**
 * A screenshot of one element (a form section, a table) with a little margin: cut from a
 * full-page shot, so a sticky header does not cover part of a tall element.
 */
export async function screenshotOf(element: Locator, e: E2eEnv, name: string): Promise<void> {
  const dir = join(e.outDir, "screenshots");
  mkdirSync(dir, { recursive: true });
  const page = element.page();
  const box = await element.boundingBox();
  if (!box) throw new Error(`${name}: the element is not visible`);
  const scrollY = await page.evaluate(() => window.scrollY);
  const margin = 12;
  const clip = { x: Math.max(0, box.x - margin), y: Math.max(0, box.y + scrollY - margin), width: box.width + 2 * margin, height: box.height + 2 * margin };
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true, clip });
}

/** How many microphone tracks the page opened, and how many are still live. */
export async function microphoneTracks(page: Page): Promise<{ opened: number; live: number }> {
  return page.evaluate(() => {
    const tracks = (window as unknown as { __micTracks: MediaStreamTrack[] }).__micTracks;
    return { opened: tracks.length, live: tracks.filter((t) => t.readyState === "live").length };
  });
}

/**
 * Measure the agent's audio in the page for up to `ms`: whether an `<audio>` element was
 * playing a stream, and the loudest RMS (0..1) heard from those streams. Elements that
 * appear while measuring (the agent's track arrives after connecting) are picked up too.
 * Returns as soon as a playing element was heard above `enough` (a slow machine may take
 * long to start speaking; a fixed window would read silence).
 */
export async function agentAudioPeak(page: Page, ms: number, enough = 0.02): Promise<{ playing: boolean; peak: number }> {
  return page.evaluate(async ([duration, loud]) => {
    const ctx = new AudioContext();
    await ctx.resume();
    const seen = new Map<HTMLAudioElement, AnalyserNode>();
    const buf = new Float32Array(2048);
    let peak = 0;
    let playing = false;
    const until = performance.now() + duration;
    while (performance.now() < until) {
      for (const el of document.querySelectorAll("audio")) {
        const stream = el.srcObject;
        if (seen.has(el) || !(stream instanceof MediaStream) || stream.getAudioTracks().length === 0) continue;
        const analyser = ctx.createAnalyser();
        analyser.fftSize = 2048;
        ctx.createMediaStreamSource(stream).connect(analyser);
        seen.set(el, analyser);
      }
      for (const [el, analyser] of seen) {
        playing ||= !el.paused;
        analyser.getFloatTimeDomainData(buf);
        let sum = 0;
        for (const v of buf) sum += v * v;
        peak = Math.max(peak, Math.sqrt(sum / buf.length));
      }
      if (playing && peak > loud) break;
      await new Promise((r) => setTimeout(r, 40));
    }
    await ctx.close();
    return { playing, peak };
  }, [ms, enough] as const);
}

/** The conversation's bubbles (our component and the guide page use the same markup). */
export function bubbles(page: Page, role: "user" | "assistant"): Locator {
  return page.locator(`[role="log"][aria-label="Conversation"] li[data-role="${role}"]`);
}

export async function texts(locator: Locator): Promise<string[]> {
  return (await locator.allInnerTexts()).map((t) => t.trim());
}

/** Wait until `probe` returns a truthy value (polling), or fail with `what`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T>,
  timeoutMs: number,
): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < until) {
    last = await probe();
    if (last) return last as NonNullable<T>;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

export function words(text: string): Set<string> {
  return new Set(text.toLowerCase().match(/[\w']+/g) ?? []);
}

/** Console errors other than the browser's note on an API answer a test provoked on purpose
 * (a wrong password's 401, a validation 422): anything left is a defect. */
export function unexpectedErrors(errors: string[]): string[] {
  return errors.filter((e) => !/^Failed to load resource: the server responded with a status of (401|422)/.test(e));
}
