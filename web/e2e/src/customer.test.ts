/** The customer example page (our React component): a whole call in chromium. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { runCall } from "./call.js";
import { env, launch, newCallPage, screenshot } from "./support.js";

test("a customer's page talks to the agent by voice and text, and never sees the API key", async () => {
  const e = env();
  const created = JSON.parse(readFileSync(join(e.outDir, "created.json"), "utf8")) as { apiKey: string };
  const browser = await launch(e);
  try {
    const { page } = await newCallPage(browser);
    const bodies: string[] = [];
    page.on("response", (resp) => {
      void resp.text().then((t) => bodies.push(t), () => undefined);
    });
    await page.goto(e.exampleUrl);
    await page.getByRole("region", { name: "Talk to Rosa's Bakery" }).waitFor();
    await screenshot(page, e, "customer-page-idle");
    await runCall(page, (line) => console.log(`[customer] ${line}`));
    await screenshot(page, e, "customer-page-after-call");
    assert.ok(bodies.length > 0);
    assert.ok(!bodies.some((b) => b.includes(created.apiKey)), "the API key reached the browser");
    assert.ok(!bodies.some((b) => b.includes("receptionist of Rosa")), "the system prompt reached the browser");
  } finally {
    await browser.close();
  }
});
