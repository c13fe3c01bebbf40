import { describe, expect, it } from "vitest";
import type { VoiceFallback, VoiceRestored, VoiceStatus } from "../src/index.js";
import { connectedCall, recordedCall } from "./helpers.js";

async function voiceCall() {
  const recorded = await connectedCall();
  const fallbacks: VoiceFallback[] = [];
  const restores: VoiceRestored[] = [];
  recorded.call.on("voiceFallback", (v) => fallbacks.push(v));
  recorded.call.on("voiceRestored", (v) => restores.push(v));
  return { ...recorded, fallbacks, restores };
}

describe("voice fallback on voice.events", () => {
  it("starts in the cloned voice, before and after connecting", async () => {
    const { call } = recordedCall();
    expect(call.voice).toEqual({ fallback: false });
    await call.connect();
    expect(call.voice).toEqual({ fallback: false });
  });

  it("emits voiceFallback and exposes it on call.voice", async () => {
    const { room, call, fallbacks, restores, messages, errors } = await voiceCall();
    room.receive("voice.events", { type: "voice_fallback", voice_model: "elevenlabs", reason: "not_configured" });
    expect(fallbacks).toEqual([{ voiceModel: "elevenlabs", reason: "not_configured" }]);
    expect(call.voice).toEqual({ fallback: true, voiceModel: "elevenlabs", reason: "not_configured" });
    expect(restores).toEqual([]);
    // Not a chat message and not an error: the call just goes on.
    expect(messages).toEqual([]);
    expect(errors).toEqual([]);
    expect(call.state).toBe("connected");
  });

  it("emits voiceRestored when the cloned voice is back", async () => {
    const { room, call, fallbacks, restores } = await voiceCall();
    room.receive("voice.events", { type: "voice_fallback", voice_model: "elevenlabs", reason: "unavailable" });
    const during: VoiceStatus = call.voice;
    room.receive("voice.events", { type: "voice_restored", voice_model: "elevenlabs" });
    expect(restores).toEqual([{ voiceModel: "elevenlabs" }]);
    expect(call.voice).toEqual({ fallback: false, voiceModel: "elevenlabs" });
    expect(call.voice).not.toBe(during);
    expect(fallbacks).toHaveLength(1);
  });

  it("reports a new reason while in fallback, and can fall back again after a restore", async () => {
    const { room, call, fallbacks, restores } = await voiceCall();
    room.receive("voice.events", { type: "voice_fallback", voice_model: "clone-server", reason: "unavailable" });
    room.receive("voice.events", { type: "voice_fallback", voice_model: "clone-server", reason: "clone_failed" });
    expect(call.voice).toEqual({ fallback: true, voiceModel: "clone-server", reason: "clone_failed" });
    room.receive("voice.events", { type: "voice_restored", voice_model: "clone-server" });
    room.receive("voice.events", { type: "voice_fallback", voice_model: "clone-server", reason: "unavailable" });
    expect(fallbacks.map((f) => f.reason)).toEqual(["unavailable", "clone_failed", "unavailable"]);
    expect(restores).toHaveLength(1);
    expect(call.voice.fallback).toBe(true);
  });

  it("ignores a restore that follows no fallback", async () => {
    const { room, call, restores } = await voiceCall();
    const before = call.voice;
    room.receive("voice.events", { type: "voice_restored", voice_model: "elevenlabs" });
    expect(restores).toEqual([]);
    expect(call.voice).toBe(before);
  });

  it("ignores malformed voice frames and voice frames on other topics", async () => {
    const { room, call, fallbacks, restores, messages, errors } = await voiceCall();
    room.receive("voice.events", { type: "voice_fallback", reason: "unavailable" });
    room.receive("voice.events", { type: "voice_fallback", voice_model: "elevenlabs" });
    room.receive("voice.events", { type: "voice_fallback", voice_model: ["elevenlabs"], reason: "unavailable" });
    room.receive("voice.events", "voice_fallback");
    room.receive("voice.reply", { type: "voice_fallback", voice_model: "elevenlabs", reason: "unavailable" });
    room.receive("lk.chat", { type: "voice_fallback", voice_model: "elevenlabs", reason: "unavailable" });
    expect(fallbacks).toEqual([]);
    expect(restores).toEqual([]);
    expect(call.voice).toEqual({ fallback: false });
    expect(errors).toEqual([]);
    // voice.reply renders every frame with text as a bubble; this one has none, so nothing shows.
    expect(messages).toEqual([]);
  });

  it("stops listening once the call has ended", async () => {
    const { room, call, fallbacks } = await voiceCall();
    await call.end();
    room.receive("voice.events", { type: "voice_fallback", voice_model: "elevenlabs", reason: "unavailable" });
    expect(fallbacks).toEqual([]);
    expect(call.voice.fallback).toBe(false);
  });
});
