/** A page written straight from the public guide (plain livekit-client): the same call. */
import { test } from "node:test";
import { runCall } from "./call.js";
import { env, launch, newCallPage, screenshot } from "./support.js";

test("a client written from the guide's pattern passes the same call", async () => {
  const e = env();
  const browser = await launch(e);
  try {
    const { page } = await newCallPage(browser);
    await page.goto(`${e.exampleUrl}/guide`);
    await runCall(page, (line) => console.log(`[guide] ${line}`));
    await screenshot(page, e, "guide-page-after-call");
  } finally {
    await browser.close();
  }
});
