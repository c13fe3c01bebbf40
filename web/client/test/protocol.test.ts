import { describe, expect, it } from "vitest";
import { parseEvent } from "../src/protocol.js";

function frame(body: unknown): Uint8Array {
  return new TextEncoder().encode(typeof body === "string" ? body : JSON.stringify(body));
}

describe("parseEvent: voice frames", () => {
  it("reads voice_fallback with its engine and reason", () => {
    for (const reason of ["not_configured", "unavailable", "clone_failed"]) {
      expect(parseEvent(frame({ type: "voice_fallback", voice_model: "elevenlabs", reason }))).toEqual({
        kind: "voice_fallback",
        voiceModel: "elevenlabs",
        reason,
      });
    }
  });

  it("passes a reason it does not know through, so a newer agent's fallback still shows", () => {
    expect(parseEvent(frame({ type: "voice_fallback", voice_model: "clone-server", reason: "quota_exceeded" }))).toEqual({
      kind: "voice_fallback",
      voiceModel: "clone-server",
      reason: "quota_exceeded",
    });
  });

  it("reads voice_restored, ignoring extra fields", () => {
    expect(parseEvent(frame({ type: "voice_restored", voice_model: "elevenlabs", at: 12.5 }))).toEqual({
      kind: "voice_restored",
      voiceModel: "elevenlabs",
    });
  });

  it("ignores voice frames without a voice_model string, or a fallback without a reason", () => {
    const malformed: unknown[] = [
      { type: "voice_fallback", reason: "unavailable" },
      { type: "voice_fallback", voice_model: "", reason: "unavailable" },
      { type: "voice_fallback", voice_model: 7, reason: "unavailable" },
      { type: "voice_fallback", voice_model: "elevenlabs" },
      { type: "voice_fallback", voice_model: "elevenlabs", reason: "" },
      { type: "voice_fallback", voice_model: "elevenlabs", reason: ["unavailable"] },
      { type: "voice_restored" },
      { type: "voice_restored", voice_model: null },
    ];
    for (const body of malformed) expect(parseEvent(frame(body))).toBeUndefined();
  });

  it("still ignores garbage and unknown types", () => {
    for (const body of ["not json {", "null", "[]", '"voice_fallback"', { type: "voice_changed", voice_model: "elevenlabs" }]) {
      expect(parseEvent(frame(body))).toBeUndefined();
    }
    expect(parseEvent(new Uint8Array([0xff, 0xfe, 0x00]))).toBeUndefined();
  });

  it("keeps reading agent_state and interim as before", () => {
    expect(parseEvent(frame({ type: "agent_state", state: "speaking", voice_model: "elevenlabs" }))).toEqual({
      kind: "agent_state",
      state: "speaking",
    });
    expect(parseEvent(frame({ type: "interim", text: "hel" }))).toEqual({ kind: "interim", text: "hel" });
  });
});
