import { describe, expect, it } from "vitest";
import { parseEvent } from "../src/protocol.js";
import type { Handoff } from "../src/index.js";
import { connectedCall } from "./helpers.js";

const frame = (body: unknown) => new TextEncoder().encode(typeof body === "string" ? body : JSON.stringify(body));

describe("handoff on voice.events", () => {
  it("parses a handoff with its reason and summary, trimmed", () => {
    expect(parseEvent(frame({ type: "handoff", reason: " billing dispute ", summary: "Wants a refund for May." }))).toEqual({
      kind: "handoff",
      reason: "billing dispute",
      summary: "Wants a refund for May.",
    });
    // the LLM may leave one empty: still a handoff
    expect(parseEvent(frame({ type: "handoff", reason: "", summary: "" }))).toEqual({ kind: "handoff", reason: "", summary: "" });
  });

  it("ignores a handoff whose reason or summary is missing or not a string", () => {
    const malformed = [
      { type: "handoff" },
      { type: "handoff", reason: "billing" },
      { type: "handoff", summary: "Wants a refund." },
      { type: "handoff", reason: 7, summary: "Wants a refund." },
      { type: "handoff", reason: "billing", summary: null },
      { type: "handoff", reason: ["billing"], summary: "x" },
      '"handoff"',
    ];
    for (const body of malformed) expect(parseEvent(frame(body))).toBeUndefined();
  });

  it("emits handoff and keeps it on call.handoff, without a message or an error", async () => {
    const { room, call, messages, errors } = await connectedCall();
    const handoffs: Handoff[] = [];
    call.on("handoff", (h) => handoffs.push(h));
    expect(call.handoff).toBeNull();
    room.receive("voice.events", { type: "handoff", reason: "billing dispute", summary: "Wants a refund for May." });
    expect(handoffs).toEqual([{ reason: "billing dispute", summary: "Wants a refund for May." }]);
    expect(call.handoff).toEqual({ reason: "billing dispute", summary: "Wants a refund for May." });
    expect(messages).toEqual([]);
    expect(errors).toEqual([]);
    expect(call.state).toBe("connected");
  });

  it("ignores malformed handoff frames and handoff frames on other topics", async () => {
    const { room, call, messages, errors } = await connectedCall();
    const handoffs: Handoff[] = [];
    call.on("handoff", (h) => handoffs.push(h));
    room.receive("voice.events", { type: "handoff", reason: 1, summary: "x" });
    room.receive("voice.events", "handoff");
    room.receive("lk.chat", { type: "handoff", reason: "billing", summary: "x" });
    expect(handoffs).toEqual([]);
    expect(call.handoff).toBeNull();
    expect(messages).toEqual([]);
    expect(errors).toEqual([]);
  });
});
