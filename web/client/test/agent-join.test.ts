import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { VocableError } from "../src/index.js";
import type { FakeRoom } from "./fake-room.js";
import { connectedCall, type TestCallOptions } from "./helpers.js";

/** A connected call in a room the agent has not joined yet. */
function callWithoutAgent(options: TestCallOptions = {}) {
  return connectedCall(options, { agentPresent: false });
}

function sentTexts(room: FakeRoom): string[] {
  return room.localParticipant.published.map((p) => (JSON.parse(new TextDecoder().decode(p.data)) as { text: string }).text);
}

/** Lets pending promise callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i += 1) await Promise.resolve();
}

describe("sendText before the agent joins", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("shows the message at once and publishes it when the agent joins", async () => {
    const { room, call, messages } = await callWithoutAgent();
    let sent = false;
    const sending = call.sendText("hello early").then(() => (sent = true));
    expect(messages).toEqual([{ role: "user", text: "hello early", source: "typed" }]);
    await settle();
    expect(room.localParticipant.published).toEqual([]);
    expect(sent).toBe(false);
    room.agentJoins();
    await sending;
    expect(sentTexts(room)).toEqual(["hello early"]);
    expect(room.localParticipant.published[0]!.options).toEqual({ reliable: true, topic: "voice.user_text" });
  });

  it("keeps the order of held messages and of messages sent while they are flushed", async () => {
    const { room, call } = await callWithoutAgent();
    const first = call.sendText("one");
    const second = call.sendText("two");
    let release: () => void = () => undefined;
    room.localParticipant.publishGate = new Promise<void>((resolve) => (release = resolve));
    room.agentJoins();
    const third = call.sendText("three"); // the agent is here, but "one" and "two" are still in flight
    room.localParticipant.publishGate = undefined;
    release();
    await Promise.all([first, second, third]);
    expect(sentTexts(room)).toEqual(["one", "two", "three"]);
  });

  it("still drops the echo of a held message", async () => {
    const { room, call, messages } = await callWithoutAgent();
    const sending = call.sendText("queued");
    room.agentJoins();
    await sending;
    room.receive("voice.reply", { type: "user_text", text: "queued" });
    expect(messages).toEqual([{ role: "user", text: "queued", source: "typed" }]);
  });

  it("rejects with agent_unavailable when the agent does not join in time (default 15 s)", async () => {
    const { room, call, messages } = await callWithoutAgent();
    const outcome = call.sendText("anyone?").catch((e: unknown) => e as VocableError);
    await vi.advanceTimersByTimeAsync(14_999);
    expect(room.localParticipant.published).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    const error = await outcome;
    expect(error).toMatchObject({ name: "VocableError", code: "agent_unavailable" });
    expect((error as VocableError).message).toContain("15 s");
    // Given up: a late agent does not get it, and a later identical transcript is speech.
    room.agentJoins();
    await settle();
    expect(room.localParticipant.published).toEqual([]);
    room.receive("voice.reply", { type: "user_text", text: "anyone?" });
    expect(messages.map((m) => m.source)).toEqual(["typed", "speech"]);
    expect(call.state).toBe("connected");
  });

  it("honours agentJoinTimeoutMs", async () => {
    const { call } = await callWithoutAgent({ agentJoinTimeoutMs: 2_000 });
    const outcome = call.sendText("hi").catch((e: unknown) => e as VocableError);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(await outcome).toMatchObject({ code: "agent_unavailable" });
  });

  it("rejects held messages with not_connected when the call ends first", async () => {
    const { room, call } = await callWithoutAgent();
    const outcome = call.sendText("too late").catch((e: unknown) => e as VocableError);
    await call.end();
    expect(await outcome).toMatchObject({ code: "not_connected" });
    await vi.advanceTimersByTimeAsync(20_000);
    expect(room.localParticipant.published).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("rejects a held message with send_failed when publishing it fails", async () => {
    const { room, call } = await callWithoutAgent();
    const outcome = call.sendText("doomed").catch((e: unknown) => e as VocableError);
    room.localParticipant.failPublish = true;
    room.agentJoins();
    expect(await outcome).toMatchObject({ code: "send_failed" });
  });
});
