import { DisconnectReason, RoomEvent } from "livekit-client";
import { describe, expect, it } from "vitest";
import { createCall, VocableError, type AgentAudio } from "../src/index.js";
import { FakeRemoteAudioTrack, FakeRoom } from "./fake-room.js";
import { connectedCall, session } from "./helpers.js";

function decode(data: Uint8Array): string {
  return new TextDecoder().decode(data);
}

describe("connect", () => {
  it("joins with autoSubscribe and enables the microphone", async () => {
    const { room, call, states } = await connectedCall();
    expect(room.connectedWith).toEqual({ url: "wss://lk.example", token: "tok", opts: { autoSubscribe: true } });
    expect(room.localParticipant.microphoneCalls).toEqual([true]);
    expect(states).toEqual(["connecting", "connected"]);
    expect(call.state).toBe("connected");
  });

  it("leaves the microphone off for a text-only call", async () => {
    const { room } = await connectedCall({ microphone: false });
    expect(room.localParticipant.microphoneCalls).toEqual([]);
  });

  it("keeps the call up and emits microphone_unavailable when the mic is refused", async () => {
    const room = new FakeRoom();
    room.localParticipant.failMicrophone = true;
    const call = createCall({ session, roomFactory: () => room.asRoom() });
    const errors: VocableError[] = [];
    call.on("error", (e) => errors.push(e));
    await call.connect();
    expect(call.state).toBe("connected");
    expect(errors.map((e) => e.code)).toEqual(["microphone_unavailable"]);
  });

  it("throws connect_failed and releases the room when joining fails", async () => {
    const room = new FakeRoom();
    room.failConnect = true;
    const call = createCall({ session, roomFactory: () => room.asRoom() });
    await expect(call.connect()).rejects.toMatchObject({ code: "connect_failed" });
    expect(call.state).toBe("disconnected");
    expect(room.listenerCount(RoomEvent.DataReceived)).toBe(0);
  });

  it("refuses a second connect", async () => {
    const { call } = await connectedCall();
    await expect(call.connect()).rejects.toMatchObject({ code: "invalid_state" });
  });
});

describe("sendText", () => {
  it("publishes exactly the protocol bytes, reliably, on voice.user_text", async () => {
    const { room, call, messages } = await connectedCall();
    await call.sendText("  hello agent \n");
    expect(room.localParticipant.published).toHaveLength(1);
    const [sent] = room.localParticipant.published;
    expect(decode(sent!.data)).toBe('{"type":"user_text","text":"hello agent"}');
    expect(sent!.options).toEqual({ reliable: true, topic: "voice.user_text" });
    expect(messages).toEqual([{ role: "user", text: "hello agent", source: "typed" }]);
  });

  it("ignores empty and blank text", async () => {
    const { room, call, messages } = await connectedCall();
    await call.sendText("");
    await call.sendText("   \t\n");
    expect(room.localParticipant.published).toEqual([]);
    expect(messages).toEqual([]);
  });

  it("throws not_connected before connect", async () => {
    const call = createCall({ session, roomFactory: () => new FakeRoom().asRoom() });
    await expect(call.sendText("hi")).rejects.toMatchObject({ code: "not_connected" });
  });

  it("throws send_failed and forgets the pending text when publishing fails", async () => {
    const { room, call, messages } = await connectedCall();
    room.localParticipant.failPublish = true;
    await expect(call.sendText("lost")).rejects.toMatchObject({ code: "send_failed" });
    room.receive("voice.reply", { type: "user_text", text: "lost" });
    expect(messages.map((m) => m.source)).toEqual(["typed", "speech"]);
  });
});

describe("voice.reply", () => {
  it("emits a typed message once and drops its echo", async () => {
    const { room, call, messages } = await connectedCall();
    await call.sendText("what time is it?");
    room.receive("voice.reply", { type: "user_text", text: "what time is it?" });
    expect(messages).toEqual([{ role: "user", text: "what time is it?", source: "typed" }]);
  });

  it("de-duplicates the same text typed twice and echoed twice to two messages", async () => {
    const { room, call, messages } = await connectedCall();
    await call.sendText("yes");
    await call.sendText("yes");
    room.receive("voice.reply", { type: "user_text", text: "yes" });
    room.receive("voice.reply", { type: "user_text", text: "yes" });
    expect(messages).toHaveLength(2);
    expect(messages.every((m) => m.source === "typed")).toBe(true);
  });

  it("emits a spoken transcript when nothing is pending, even after the same text was typed and echoed", async () => {
    const { room, call, messages } = await connectedCall();
    await call.sendText("yes");
    room.receive("voice.reply", { type: "user_text", text: "yes" });
    room.receive("voice.reply", { type: "user_text", text: "yes" });
    expect(messages).toEqual([
      { role: "user", text: "yes", source: "typed" },
      { role: "user", text: "yes", source: "speech" },
    ]);
  });

  it("matches echoes by exact string only", async () => {
    const { room, call, messages } = await connectedCall();
    await call.sendText("Hello");
    room.receive("voice.reply", { type: "user_text", text: "hello" });
    expect(messages.map((m) => m.source)).toEqual(["typed", "speech"]);
  });

  it("emits agent turns as assistant messages, trimmed, falling back to message", async () => {
    const { room, messages } = await connectedCall();
    room.receive("voice.reply", { type: "agent_text", text: "  Hi, how can I help? " });
    room.receive("voice.reply", { message: "legacy shape" });
    expect(messages).toEqual([
      { role: "assistant", text: "Hi, how can I help?", source: "agent" },
      { role: "assistant", text: "legacy shape", source: "agent" },
    ]);
  });

  it("ignores garbage frames and empty text", async () => {
    const { room, messages, errors } = await connectedCall();
    room.receive("voice.reply", "not json {");
    room.receive("voice.reply", "42");
    room.receive("voice.reply", "null");
    room.receive("voice.reply", '["a"]');
    room.receive("voice.reply", { type: "agent_text", text: "   " });
    room.receive("voice.reply", { type: "agent_text", text: 7 });
    room.emit(RoomEvent.DataReceived, new Uint8Array([0xff, 0xfe, 0x00]), undefined, undefined, "voice.reply");
    expect(messages).toEqual([]);
    expect(errors).toEqual([]);
  });

  it("ignores other topics and frames without a topic", async () => {
    const { room, messages } = await connectedCall();
    room.receive("lk.chat", { type: "agent_text", text: "elsewhere" });
    room.receive("voice.user_text", { type: "user_text", text: "loopback" });
    room.emit(RoomEvent.DataReceived, new TextEncoder().encode('{"text":"no topic"}'));
    expect(messages).toEqual([]);
  });
});

describe("voice.events", () => {
  it("maps agent_state and interim, ignores the rest", async () => {
    const { room, call, messages } = await connectedCall();
    const states: string[] = [];
    const interims: string[] = [];
    call.on("agentState", (s) => states.push(s));
    call.on("interim", (t) => interims.push(t));
    room.receive("voice.events", { type: "agent_state", state: "thinking" });
    room.receive("voice.events", { type: "interim", text: "what ti" });
    room.receive("voice.events", { type: "agent_state", state: 3 });
    room.receive("voice.events", { type: "metrics", ttfb: 0.2 });
    room.receive("voice.events", "garbage");
    room.receive("voice.events", { type: "agent_text", text: "not a bubble" });
    expect(states).toEqual(["thinking"]);
    expect(interims).toEqual(["what ti"]);
    expect(messages).toEqual([]);
  });
});

describe("agent audio", () => {
  it("attaches, autoplays and exposes the agent track, then detaches it", async () => {
    const { room, call } = await connectedCall();
    const audio: (AgentAudio | null)[] = [];
    call.on("agentAudio", (a) => audio.push(a));
    const track = new FakeRemoteAudioTrack();
    room.emit(RoomEvent.TrackSubscribed, track, {}, {});
    expect(audio).toHaveLength(1);
    const element = audio[0]!.element as unknown as { autoplay: boolean; removed: boolean };
    expect(element.autoplay).toBe(true);
    expect(audio[0]!.track).toBe(track);
    room.emit(RoomEvent.TrackUnsubscribed, track, {}, {});
    expect(audio[1]).toBeNull();
    expect(element.removed).toBe(true);
    expect(track.attached).toEqual([]);
  });

  it("ignores video tracks", async () => {
    const { room, call } = await connectedCall();
    const audio: unknown[] = [];
    call.on("agentAudio", (a) => audio.push(a));
    room.emit(RoomEvent.TrackSubscribed, { kind: "video", attach: () => ({}) }, {}, {});
    expect(audio).toEqual([]);
  });
});

describe("end and disconnects", () => {
  it("end() disables the mic, disconnects, releases the room and raises no error", async () => {
    const { room, call, errors, states } = await connectedCall();
    const track = new FakeRemoteAudioTrack();
    room.emit(RoomEvent.TrackSubscribed, track, {}, {});
    await call.end();
    await call.end();
    expect(room.localParticipant.microphoneCalls).toEqual([true, false]);
    expect(room.disconnectCalls).toBe(1);
    expect(room.listenerCount(RoomEvent.DataReceived)).toBe(0);
    expect(track.attached).toEqual([]);
    expect(call.room).toBeUndefined();
    expect(call.state).toBe("disconnected");
    expect(states.at(-1)).toBe("disconnected");
    expect(errors).toEqual([]);
    await expect(call.sendText("late")).rejects.toMatchObject({ code: "not_connected" });
  });

  it("maps reconnecting and reconnected to connectionState", async () => {
    const { room, states } = await connectedCall();
    room.emit(RoomEvent.Reconnecting);
    room.emit(RoomEvent.Reconnected);
    expect(states).toEqual(["connecting", "connected", "reconnecting", "connected"]);
  });

  it("emits a disconnected error on an unexpected disconnect", async () => {
    const { room, call, errors, states } = await connectedCall();
    room.emit(RoomEvent.Disconnected, DisconnectReason.SERVER_SHUTDOWN);
    expect(call.state).toBe("disconnected");
    expect(states.at(-1)).toBe("disconnected");
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(VocableError);
    expect(errors[0]!.code).toBe("disconnected");
    expect(errors[0]!.message).toContain("SERVER_SHUTDOWN");
  });

  it("keeps delivering events to other listeners when one throws, and re-throws later", async () => {
    const { room, call } = await connectedCall();
    const seen: string[] = [];
    const deferred: (() => void)[] = [];
    const realQueueMicrotask = globalThis.queueMicrotask;
    globalThis.queueMicrotask = (task) => deferred.push(task);
    try {
      call.on("message", () => {
        throw new Error("ui bug");
      });
      call.on("message", (m) => seen.push(m.text));
      room.receive("voice.reply", { type: "agent_text", text: "still here" });
    } finally {
      globalThis.queueMicrotask = realQueueMicrotask;
    }
    expect(seen).toEqual(["still here"]);
    expect(deferred).toHaveLength(1);
    expect(() => deferred[0]!()).toThrow("ui bug");
  });
});

