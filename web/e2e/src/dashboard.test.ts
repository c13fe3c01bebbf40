/**
 * The dashboard as a new operator uses it: sign in, create an API key (shown once), create
 * an agent (validation errors next to the field), copy the Agent ID, try a call, sign out.
 * Writes the created key and Agent ID for the customer example that runs next.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { bubbles, env, eventually, launch, newCallPage, screenshot, screenshotOf, texts, unexpectedErrors } from "./support.js";

const PROMPT =
  "You are the receptionist of Rosa's Bakery. The bakery opens at nine in the morning " +
  "and closes at six in the evening. Answer questions about opening hours.";
const GREETING = "Welcome to Rosa's Bakery. How can I help you?";

test("an operator signs in, creates a key and an agent, and tries a call", async () => {
  const e = env();
  const browser = await launch(e);
  try {
    const { page, cspViolations, consoleErrors } = await newCallPage(browser);
    await page.goto(`${e.vocableUrl}/agents`);
    // not signed in: the login page
    await page.getByLabel("Email").waitFor();
    await screenshot(page, e, "dashboard-login");
    await page.getByLabel("Password").fill("not the password");
    await page.getByLabel("Email").fill(e.adminEmail);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").waitFor();
    await page.getByLabel("Password").fill(e.adminPassword);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("link", { name: "Developer settings", exact: true }).waitFor();
    // the owner is told about the wrong password tried before
    await page.getByText("A wrong password was entered for your account once").waitFor();

    // developer settings: a key shown once, with least privilege: sessions (preselected),
    // plus reading agents and calls (what the test below checks the key with)
    await page.getByRole("link", { name: "Developer settings", exact: true }).click();
    await page.getByLabel("Key name").fill("website backend");
    assert.ok(await page.getByRole("checkbox", { name: /Create sessions/ }).isChecked(), "sessions-only by default");
    assert.ok(!(await page.getByRole("checkbox", { name: /Full access/ }).isChecked()));
    await page.getByRole("checkbox", { name: /Read agents/ }).check();
    await screenshot(page, e, "dashboard-developer-settings-key-form");
    await page.getByRole("button", { name: "Create key" }).click();
    const secretEl = page.getByTestId("new-key-secret");
    await secretEl.waitFor();
    const apiKey = (await secretEl.innerText()).trim();
    assert.match(apiKey, /^sk_[A-Za-z0-9_-]{20,}$/);
    await page.getByRole("button", { name: "Copy" }).click();
    await screenshot(page, e, "dashboard-developer-settings-new-key");
    await page.getByRole("link", { name: "Agents", exact: true }).click();
    await page.getByRole("link", { name: "Developer settings", exact: true }).click();
    await page.getByText("website backend").waitFor();
    await page.getByText("sessions:create, agents:read").waitFor();
    // the key's permissions changed in place: it reads calls too (the test below uses it)
    await page.getByRole("button", { name: "Edit permissions of “website backend”" }).click();
    const editPanel = page.getByRole("region", { name: /Permissions of “website backend”/ });
    await editPanel.getByRole("checkbox", { name: /Read calls and transcripts/ }).check();
    await screenshot(page, e, "dashboard-developer-settings-edit-key");
    await editPanel.getByRole("button", { name: "Save permissions" }).click();
    await page.getByText("sessions:create, agents:read, calls:read").waitFor();
    await screenshot(page, e, "dashboard-developer-settings-keys");
    // the keys table fits the card at this width: no sideways scrolling, Revoke in view
    const revoke = page.getByRole("row", { name: /website backend/ }).getByRole("button", { name: "Revoke" });
    const table = page.locator(".table-wrap").filter({ has: revoke });
    const [revokeBox, tableBox] = [await revoke.boundingBox(), await table.boundingBox()];
    assert.ok(revokeBox && tableBox && revokeBox.x + revokeBox.width <= tableBox.x + tableBox.width + 1, "Revoke fits in the keys table's box");
    const overflow = await table.evaluate((el) => el.scrollWidth - el.clientWidth);
    console.log(`keys table overflow: ${overflow}px`);
    await screenshotOf(table, e, "dashboard-developer-settings-keys-table");
    assert.ok(!(await page.content()).includes(apiKey), "the secret is shown only once");

    // a new agent; a bad language is reported next to the field
    await page.getByRole("link", { name: "Agents", exact: true }).click();
    await page.getByRole("link", { name: "New agent", exact: true }).click();
    await page.getByLabel("Name", { exact: true }).fill("Bakery receptionist");
    await page.getByLabel("System prompt", { exact: true }).fill(PROMPT);
    await page.getByLabel("Greeting", { exact: true }).fill(GREETING);
    await page.getByLabel("Language model", { exact: true }).selectOption("qwen2.5-0.5b");
    const language = page.getByLabel("Language", { exact: true });
    await language.fill("xx-klingon-zz");
    await page.getByRole("button", { name: "Create agent" }).click();
    await eventually("the language field to be marked invalid", async () => (await language.getAttribute("aria-invalid")) === "true", 10_000);
    const describedBy = (await language.getAttribute("aria-describedby")) ?? "";
    const fieldError = await page.locator(`[id="${describedBy.split(" ")[0]}"]`).innerText();
    assert.ok(fieldError.trim().length > 0, "the API's error is shown next to the field");
    await screenshot(page, e, "dashboard-agent-validation-error");
    await language.fill("en");
    await page.getByRole("button", { name: "Create agent" }).click();
    const idEl = page.getByTestId("agent-id");
    await idEl.waitFor({ timeout: 15_000 });
    const agentId = (await idEl.innerText()).trim();
    assert.match(agentId, /^agt_/);
    await screenshot(page, e, "dashboard-agent-page");

    // conversation settings and what a session may override: changed, saved (PATCH), still
    // there after a reload (the Python side checks the API has them). Nothing that could end
    // the calls that follow early: no built-in tools, no end-call phrases.
    const conversation = page.getByRole("group", { name: "Conversation", exact: true });
    await conversation.getByLabel("Temperature").fill("0.3");
    await conversation.getByLabel("Goodbye", { exact: true }).fill("Thank you for calling Rosa's Bakery. Goodbye!");
    const overrides = page.getByRole("group", { name: "What a session may override", exact: true });
    await overrides.getByRole("checkbox", { name: /^System prompt/ }).uncheck();
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.getByText("Saved.", { exact: true }).waitFor();
    await page.reload();
    await idEl.waitFor({ timeout: 15_000 });
    assert.equal(await conversation.getByLabel("Temperature").inputValue(), "0.3");
    assert.ok(!(await overrides.getByRole("checkbox", { name: /^System prompt/ }).isChecked()));
    assert.ok(await overrides.getByRole("checkbox", { name: /^Language/ }).isChecked());
    await screenshotOf(conversation, e, "dashboard-agent-conversation");
    await screenshotOf(page.getByRole("group", { name: "Built-in tools", exact: true }), e, "dashboard-agent-built-in-tools");
    await screenshotOf(overrides, e, "dashboard-agent-session-overrides");
    // the HTTP tool form: write-only headers typed as rows (nothing stored yet)
    await page.getByRole("button", { name: "Add HTTP tool" }).click();
    const toolForm = page.getByRole("form", { name: "Add HTTP tool" });
    await toolForm.getByLabel("Header 1 name").fill("Authorization");
    await screenshotOf(toolForm, e, "dashboard-agent-http-tool-form");
    await toolForm.getByRole("button", { name: "Cancel" }).click();
    writeFileSync(join(e.outDir, "created.json"), JSON.stringify({ apiKey, agentId }));

    // try it: a real call from the agent page (text only here; the voice path is the example's)
    const tryIt = page.locator("section").filter({ has: page.getByRole("heading", { name: "Try it" }) });
    await tryIt.getByRole("button", { name: "Start call" }).click();
    await eventually("the greeting in the try-it panel", async () => (await texts(bubbles(page, "assistant")))[0], 60_000);
    await screenshot(page, e, "dashboard-try-it");
    await tryIt.getByRole("button", { name: "End call" }).click();

    // the call shows up in the history, with its transcript
    await page.getByRole("link", { name: "Calls", exact: true }).click();
    await page.getByText("Bakery receptionist").first().waitFor({ timeout: 15_000 });
    await screenshot(page, e, "dashboard-calls");

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Email").waitFor();
    // the whole flow, a call included, needed nothing the security policy refuses
    assert.deepEqual(cspViolations, []);
    assert.deepEqual(unexpectedErrors(consoleErrors), []);
  } finally {
    await browser.close();
  }
});

test("the dashboard cannot be framed, and the API reference works with no other server", async () => {
  const e = env();
  const browser = await launch(e);
  try {
    const { context, page, cspViolations, consoleErrors } = await newCallPage(browser);
    // another page embeds the dashboard in a frame (clickjacking): the browser refuses
    await page.setContent(`<h1>Another site</h1><iframe src="${e.vocableUrl}/agents"></iframe>`);
    await page.waitForTimeout(2000);
    const framed = page.frames().filter((f) => f !== page.mainFrame());
    assert.equal(framed.length, 1);
    const inFrame = await framed[0]!.locator("body").innerText().catch(() => "");
    assert.ok(!inFrame.includes("Sign in"), "the dashboard rendered inside another site's frame");
    assert.ok(cspViolations.some((v) => v.includes("frame-ancestors")), "refused by frame-ancestors");
    cspViolations.length = 0;
    consoleErrors.length = 0;

    // /docs with every other host unreachable: no CDN needed
    const elsewhere: string[] = [];
    await context.route(
      (url) => !url.href.startsWith(e.vocableUrl),
      async (route) => {
        elsewhere.push(route.request().url());
        await route.abort();
      },
    );
    await page.goto(`${e.vocableUrl}/docs`);
    await page.getByRole("heading", { name: /Vocable API/ }).waitFor({ timeout: 20_000 });
    await page.getByText("/api/agents/agent-session/").first().waitFor({ timeout: 10_000 });
    await screenshot(page, e, "api-reference");
    assert.deepEqual(elsewhere, []);
    assert.deepEqual(cspViolations, []);
    assert.deepEqual(consoleErrors, []);  // the API reference page: not one console error
  } finally {
    await browser.close();
  }
});

test("an owner invites a teammate, who joins from the link and changes their password", async () => {
  const e = env();
  const browser = await launch(e);
  try {
    const { page, cspViolations, consoleErrors } = await newCallPage(browser);
    await page.goto(`${e.vocableUrl}/login`);
    // no mail server here: the page says who can reset a password
    await page.getByRole("button", { name: "Forgot your password?" }).click();
    await page.getByText("vocable admin reset-password").waitFor();
    await screenshot(page, e, "dashboard-login-forgot-password");
    await page.getByLabel("Email").fill(e.adminEmail);
    await page.getByLabel("Password").fill(e.adminPassword);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("link", { name: "Members", exact: true }).click();
    await page.getByLabel("Email", { exact: true }).fill("dev-teammate@example.com");
    await page.getByLabel("Role", { exact: true }).selectOption("developer");
    await page.getByRole("button", { name: "Create invitation link" }).click();
    const link = (await page.getByTestId("invite-link").innerText()).trim();
    assert.match(link, /\/accept-invite#inv_/);
    await page.getByRole("heading", { name: "Pending invitations" }).waitFor();
    await screenshot(page, e, "dashboard-members");

    // the teammate, in their own browser
    const { page: teammate } = await newCallPage(browser);
    await teammate.goto(link);
    await teammate.getByRole("heading", { name: /^Join / }).waitFor();
    await teammate.getByLabel("New password").fill("password1234");
    await teammate.getByLabel("Repeat the password").fill("password1234");
    await teammate.getByRole("button", { name: "Join" }).click();
    await teammate.getByText("too easy to guess").waitFor();  // the policy, next to the field
    await screenshot(teammate, e, "dashboard-accept-invite-weak-password");
    await teammate.getByLabel("New password").fill("violet-tractor-lantern-9");
    await teammate.getByLabel("Repeat the password").fill("violet-tractor-lantern-9");
    await teammate.getByRole("button", { name: "Join" }).click();
    await teammate.getByRole("link", { name: "Members", exact: true }).waitFor({ timeout: 15_000 });
    await teammate.getByText("developer", { exact: false }).first().waitFor();
    await teammate.getByRole("link", { name: "Members", exact: true }).click();
    await teammate.getByRole("heading", { name: "Members", level: 2 }).waitFor();
    assert.equal(await teammate.getByRole("button", { name: "Create invitation link" }).count(), 0);

    await teammate.getByRole("link", { name: "dev-teammate@example.com" }).click();
    await teammate.getByLabel("Current password").fill("violet-tractor-lantern-9");
    await teammate.getByLabel("New password", { exact: true }).fill("amber-canal-whistle-42");
    await teammate.getByLabel("Repeat the new password").fill("amber-canal-whistle-42");
    await teammate.getByRole("button", { name: "Change password" }).click();
    await teammate.getByText("Password changed.").waitFor();
    await screenshot(teammate, e, "dashboard-account");

    // the owner sees the new member with their role
    await page.reload();
    await page.getByRole("cell", { name: "dev-teammate@example.com" }).or(page.getByRole("rowheader", { name: /dev-teammate/ })).first().waitFor();
    assert.deepEqual(cspViolations, []);
    assert.deepEqual(unexpectedErrors(consoleErrors), []);
  } finally {
    await browser.close();
  }
});
