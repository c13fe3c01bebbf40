import { act, cleanup, renderHook, waitFor } from "@testing-library/react";
import type { CallMessage, ConnectionState } from "@vocable/client";
import { RoomEvent } from "livekit-client";
import { afterEach, describe, expect, it, vi } from "vitest";
import { useVoiceCall } from "../src/index.js";
import { agentSpeaks, fakeCallOptions, session } from "./helpers.js";

afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

describe("useVoiceCall", () => {
  it("starts idle and does nothing until start()", () => {
    const { options, rooms } = fakeCallOptions();
    const { result } = renderHook(() => useVoiceCall(options));
    expect(result.current.state).toBe("idle");
    expect(result.current.call).toBeNull();
    expect(result.current.messages).toEqual([]);
    expect(result.current.error).toBeNull();
    expect(rooms).toEqual([]);
  });

  it("connects, enables the mic and exposes the conversation, agent state and interim text", async () => {
    const { options, room } = fakeCallOptions();
    const { result } = renderHook(() => useVoiceCall(options));
    await act(() => result.current.start());
    expect(result.current.state).toBe("connected");
    expect(result.current.microphoneEnabled).toBe(true);
    expect(result.current.microphoneTrack).toBe(room().localParticipant.microphone!.track.mediaStreamTrack);

    act(() => {
      room().receive("voice.reply", { type: "agent_text", text: "Hello!" });
      room().receive("voice.events", { type: "agent_state", state: "listening" });
      room().receive("voice.events", { type: "interim", text: "what ti" });
    });
    expect(result.current.agentState).toBe("listening");
    expect(result.current.interim).toBe("what ti");

    act(() => room().receive("voice.reply", { type: "user_text", text: "what time is it" }));
    expect(result.current.interim).toBe("");
    expect(result.current.messages).toEqual([
      { role: "assistant", text: "Hello!", source: "agent" },
      { role: "user", text: "what time is it", source: "speech" },
    ]);
  });

  it("follows the agent's voice: fallback, restore, and back to normal when the call ends", async () => {
    const { options, room } = fakeCallOptions();
    const { result } = renderHook(() => useVoiceCall(options));
    expect(result.current.voice).toEqual({ fallback: false });
    await act(() => result.current.start());
    expect(result.current.voice).toEqual({ fallback: false });

    act(() => room().receive("voice.events", { type: "voice_fallback", voice_model: "elevenlabs", reason: "unavailable" }));
    expect(result.current.voice).toEqual({ fallback: true, voiceModel: "elevenlabs", reason: "unavailable" });
    expect(result.current.voice).toBe(result.current.call!.voice);
    expect(result.current.error).toBeNull();

    act(() => room().receive("voice.events", { type: "voice_restored", voice_model: "elevenlabs" }));
    expect(result.current.voice).toEqual({ fallback: false, voiceModel: "elevenlabs" });

    act(() => room().receive("voice.events", { type: "voice_fallback", voice_model: "elevenlabs", reason: "clone_failed" }));
    expect(result.current.voice.fallback).toBe(true);
    await act(() => result.current.end());
    expect(result.current.voice).toEqual({ fallback: false });
  });

  it("ignores a fallback reported by a previous call", async () => {
    const { options, rooms } = fakeCallOptions();
    const { result } = renderHook(() => useVoiceCall(options));
    await act(() => result.current.start());
    await act(() => result.current.end());
    await act(() => result.current.start());
    act(() => rooms[0]!.receive("voice.events", { type: "voice_fallback", voice_model: "clone-server", reason: "not_configured" }));
    expect(result.current.voice).toEqual({ fallback: false });
    act(() => rooms[1]!.receive("voice.events", { type: "voice_fallback", voice_model: "clone-server", reason: "not_configured" }));
    expect(result.current.voice.fallback).toBe(true);
  });

  it("exposes the agent's audio track", async () => {
    const { options, room } = fakeCallOptions();
    const { result } = renderHook(() => useVoiceCall(options));
    await act(() => result.current.start());
    let track: ReturnType<typeof agentSpeaks> | undefined;
    act(() => {
      track = agentSpeaks(room());
    });
    expect(result.current.agentAudioTrack).toBe(track!.mediaStreamTrack);
  });

  it("shows a typed message once, dropping its echo", async () => {
    const { options, room } = fakeCallOptions();
    const { result } = renderHook(() => useVoiceCall(options));
    await act(() => result.current.start());
    await act(() => result.current.sendText("hi there"));
    act(() => room().receive("voice.reply", { type: "user_text", text: "hi there" }));
    expect(result.current.messages).toEqual([{ role: "user", text: "hi there", source: "typed" }]);
  });

  it("toggles the microphone", async () => {
    const { options } = fakeCallOptions();
    const { result } = renderHook(() => useVoiceCall(options));
    await act(() => result.current.start());
    await act(() => result.current.setMicrophoneEnabled(false));
    expect(result.current.microphoneEnabled).toBe(false);
    await act(() => result.current.setMicrophoneEnabled(true));
    expect(result.current.microphoneEnabled).toBe(true);
  });

  it("reports a refused microphone as an error and keeps the call", async () => {
    const { options, rooms } = fakeCallOptions();
    const { result } = renderHook(() =>
      useVoiceCall({
        ...options,
        roomFactory: () => {
          const room = options.roomFactory!();
          rooms.at(-1)!.localParticipant.failMicrophone = true;
          return room;
        },
      }),
    );
    await act(() => result.current.start());
    expect(result.current.state).toBe("connected");
    expect(result.current.microphoneEnabled).toBe(false);
    expect(result.current.error?.code).toBe("microphone_unavailable");
  });

  it("end() stops the microphone and keeps the conversation", async () => {
    const { options, room } = fakeCallOptions();
    const { result } = renderHook(() => useVoiceCall(options));
    await act(() => result.current.start());
    act(() => room().receive("voice.reply", { type: "agent_text", text: "Bye" }));
    const mic = room().localParticipant.microphone!.track.mediaStreamTrack;
    await act(() => result.current.end());
    expect(result.current.state).toBe("disconnected");
    expect(mic.readyState).toBe("ended");
    expect(result.current.microphoneTrack).toBeUndefined();
    expect(result.current.microphoneEnabled).toBe(false);
    expect(result.current.messages).toHaveLength(1);
    expect(result.current.error).toBeNull();
  });

  it("creates a new call per start(), resetting the conversation; start() while active is a no-op", async () => {
    const { options, rooms, room } = fakeCallOptions();
    const { result } = renderHook(() => useVoiceCall(options));
    await act(() => result.current.start());
    const first = result.current.call;
    await act(() => result.current.start());
    expect(rooms).toHaveLength(1);
    act(() => room().receive("voice.reply", { type: "agent_text", text: "first call" }));
    await act(() => result.current.end());
    await act(() => result.current.start());
    expect(rooms).toHaveLength(2);
    expect(result.current.call).not.toBe(first);
    expect(result.current.state).toBe("connected");
    expect(result.current.messages).toEqual([]);
    // The first call is no longer listened to.
    act(() => rooms[0]!.receive("voice.reply", { type: "agent_text", text: "ghost" }));
    expect(result.current.messages).toEqual([]);
  });

  it("ends the call on unmount", async () => {
    const { options, room } = fakeCallOptions();
    const { result, unmount } = renderHook(() => useVoiceCall(options));
    await act(() => result.current.start());
    const mic = room().localParticipant.microphone!.track.mediaStreamTrack;
    unmount();
    await waitFor(() => expect(room().disconnectCalls).toBe(1));
    expect(mic.readyState).toBe("ended");
  });

  it("puts a failed session fetch in error, with the backend's message", async () => {
    const fetch = async () => new Response(JSON.stringify({ success: false, message: "Unknown agent" }), { status: 404 });
    const onError = vi.fn();
    const { result } = renderHook(() => useVoiceCall({ sessionUrl: "/session", fetch, onError }));
    await act(() => result.current.start());
    expect(result.current.state).toBe("disconnected");
    expect(result.current.error).toMatchObject({ code: "session_http_error", status: 404, message: "Unknown agent" });
    expect(onError).toHaveBeenCalledWith(result.current.error);
  });

  it("gets credentials from getSession", async () => {
    const { options, rooms } = fakeCallOptions();
    const getSession = vi.fn(async () => ({ success: true, data: session }));
    const { result } = renderHook(() => useVoiceCall({ getSession, roomFactory: options.roomFactory!, audioContainer: null }));
    await act(() => result.current.start());
    expect(getSession).toHaveBeenCalledOnce();
    expect(rooms[0]!.connectedWith?.token).toBe("tok");
  });

  it("reports an unexpected disconnect", async () => {
    const { options, room } = fakeCallOptions();
    const { result } = renderHook(() => useVoiceCall(options));
    await act(() => result.current.start());
    act(() => room().emit(RoomEvent.Disconnected));
    expect(result.current.state).toBe("disconnected");
    expect(result.current.error?.code).toBe("disconnected");
  });

  it("sets agent_unavailable when a message waits in vain for the agent", async () => {
    vi.useFakeTimers();
    const { options, room } = fakeCallOptions({ agentPresent: false });
    const { result } = renderHook(() => useVoiceCall({ ...options, agentJoinTimeoutMs: 1_000 }));
    await act(() => result.current.start());
    await act(async () => {
      const sending = result.current.sendText("hello?");
      await vi.advanceTimersByTimeAsync(1_000);
      await sending;
    });
    expect(result.current.messages).toHaveLength(1);
    expect(result.current.error?.code).toBe("agent_unavailable");
    expect(room().localParticipant.published).toEqual([]);
  });

  it("does not report a held message cut off by end()", async () => {
    const { options } = fakeCallOptions({ agentPresent: false });
    const { result } = renderHook(() => useVoiceCall(options));
    await act(() => result.current.start());
    let sending: Promise<void> = Promise.resolve();
    act(() => {
      sending = result.current.sendText("never mind");
    });
    await act(() => result.current.end());
    await act(() => sending);
    expect(result.current.error).toBeNull();
  });

  it("calls onMessage and onStateChange as events happen, with the latest callbacks", async () => {
    const { options, room } = fakeCallOptions();
    const states: ConnectionState[] = [];
    const seen: CallMessage[] = [];
    const { result, rerender } = renderHook(
      ({ tag }) =>
        useVoiceCall({
          ...options,
          onStateChange: (s) => states.push(s),
          onMessage: (m) => seen.push({ ...m, text: `${tag}:${m.text}` }),
        }),
      { initialProps: { tag: "a" } },
    );
    await act(() => result.current.start());
    rerender({ tag: "b" });
    act(() => room().receive("voice.reply", { type: "agent_text", text: "hi" }));
    expect(states).toEqual(["connecting", "connected"]);
    expect(seen.map((m) => m.text)).toEqual(["b:hi"]);
  });
});
