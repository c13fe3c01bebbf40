/**
 * The call every client page must pass: join, hear the greeting, ask a spoken question,
 * type a message, hang up. Used for our React component and for the guide-pattern page.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { agentAudioPeak, bubbles, eventually, microphoneTracks, texts, words } from "./support.js";

export const TYPED = "When do you close?";

export async function runCall(page: Page, log: (line: string) => void): Promise<void> {
  await page.getByRole("button", { name: "Start call" }).click();
  await page.getByRole("status").filter({ hasText: /^Connected$/ }).waitFor({ timeout: 30_000 });
  log("connected");

  // the greeting: heard (a playing <audio> with sound) and shown as the first agent bubble
  const audio = agentAudioPeak(page, 60_000);
  const greeting = await eventually("the greeting bubble", async () => (await texts(bubbles(page, "assistant")))[0], 60_000);
  log(`greeting: ${greeting}`);
  assert.match(greeting, /welcome/i);
  const heard = await audio;
  log(`agent audio: playing=${heard.playing} peak=${heard.peak.toFixed(3)}`);
  assert.ok(heard.playing, "an <audio> element plays the agent's track");
  assert.ok(heard.peak > 0.01, `the agent's audio is not silent (peak RMS ${heard.peak})`);

  // the fake microphone asks its question after a pause: a transcript bubble, then a reply
  const spoken = await eventually(
    "a transcript of the spoken question",
    async () => {
      const mine = await texts(bubbles(page, "user"));
      return mine.find((t) => ["time", "bakery", "open"].filter((w) => words(t).has(w)).length >= 2);
    },
    90_000,
  );
  log(`heard the caller say: ${spoken}`);
  const afterSpoken = await eventually(
    "the agent's answer to the spoken question",
    async () => {
      const all = await page.locator('[role="log"][aria-label="Conversation"] li').allInnerTexts();
      const at = all.findIndex((t) => t.trim() === spoken);
      return all.slice(at + 1).length > 0 ? all.slice(at + 1).join(" | ") : undefined;
    },
    120_000,
  );
  log(`answer: ${afterSpoken}`);

  // a typed message: shown once (the agent's echo is not a second bubble) and answered
  const before = (await texts(bubbles(page, "assistant"))).length;
  const input = page.getByLabel("Message");
  await eventually("the message box to be enabled", () => input.isEnabled(), 10_000);
  await input.fill(TYPED);
  await input.press("Enter");
  await eventually(
    "a reply to the typed message",
    async () => (await texts(bubbles(page, "assistant"))).length > before,
    120_000,
  );
  await page.waitForTimeout(1_000); // an echo, if it were shown, would be here by now
  const typedBubbles = (await texts(bubbles(page, "user"))).filter((t) => t === TYPED);
  assert.equal(typedBubbles.length, 1, "the typed message is shown exactly once");
  log(`typed reply: ${(await texts(bubbles(page, "assistant"))).at(-1)}`);

  // hanging up releases the microphone
  const mic = await microphoneTracks(page);
  assert.ok(mic.opened >= 1 && mic.live >= 1, `the microphone was in use (${JSON.stringify(mic)})`);
  await page.getByRole("button", { name: "End call" }).click();
  await page.getByRole("button", { name: "Start call" }).waitFor({ timeout: 15_000 });
  await eventually("the microphone to be released", async () => (await microphoneTracks(page)).live === 0, 10_000);
  log("ended; microphone released");
}
