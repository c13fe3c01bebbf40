import { act, cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { RoomEvent } from "livekit-client";
import { StrictMode } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { VocableCall, VoiceCallPanel } from "../src/index.js";
import { installFakeWebAudio } from "./fake-audio.js";
import { agentSpeaks, fakeCallOptions } from "./helpers.js";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

function status(): string {
  return screen.getByRole("status").textContent ?? "";
}

const FALLBACK_NOTICE = "The agent is using its standard voice right now.";

function bubbles(): { role: string | null; source: string | null; text: string | null }[] {
  const log = screen.getByRole("log", { name: "Conversation" });
  return within(log)
    .queryAllByRole("listitem")
    .map((li) => ({ role: li.getAttribute("data-role"), source: li.getAttribute("data-source"), text: li.textContent }));
}

async function startCall(): Promise<void> {
  await act(async () => {
    fireEvent.click(screen.getByRole("button", { name: "Start call" }));
  });
  await waitFor(() => expect(status()).toBe("Connected"));
}

function typeAndSend(text: string, how: "enter" | "click" = "enter"): void {
  const input = screen.getByRole("textbox", { name: "Message" });
  fireEvent.change(input, { target: { value: text } });
  if (how === "click") fireEvent.click(screen.getByRole("button", { name: "Send" }));
  else fireEvent.submit(input.closest("form")!);
}

describe("VoiceCallPanel", () => {
  it("renders the idle panel with the documented landmarks and selectors", () => {
    const { options } = fakeCallOptions();
    render(<VoiceCallPanel {...options} className="mine" />);
    const root = screen.getByRole("region", { name: "Voice agent" });
    expect(root.tagName).toBe("SECTION");
    expect(root.className).toBe("vocable-call mine");
    expect(root.getAttribute("data-state")).toBe("idle");
    expect(status()).toBe("Not connected");
    expect(screen.getByRole("button", { name: "Start call" }).getAttribute("type")).toBe("button");
    expect(screen.queryByRole("button", { name: "End call" })).toBeNull();
    const mic = screen.getByRole("button", { name: "Microphone" });
    expect(mic.getAttribute("aria-pressed")).toBe("false");
    const log = screen.getByRole("log", { name: "Conversation" });
    expect(log.tagName).toBe("OL");
    expect(log.getAttribute("aria-live")).toBe("polite");
    expect((screen.getByRole("textbox", { name: "Message" }) as HTMLInputElement).disabled).toBe(true);
    expect((screen.getByRole("button", { name: "Send" }) as HTMLButtonElement).disabled).toBe(true);
    for (const name of ["Agent audio level", "Microphone level"]) {
      const meter = screen.getByRole("meter", { name });
      expect(meter.getAttribute("aria-valuemin")).toBe("0");
      expect(meter.getAttribute("aria-valuemax")).toBe("100");
      expect(meter.getAttribute("aria-valuenow")).toBe("0");
    }
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("uses the title as heading and accessible name", () => {
    const { options } = fakeCallOptions();
    render(<VoiceCallPanel {...options} title="Support line" />);
    expect(screen.getByRole("region", { name: "Support line" })).toBeTruthy();
    expect(screen.getByRole("heading", { name: "Support line" })).toBeTruthy();
  });

  it("starts: Connecting… then Connected, End call, live mic toggle and text box", async () => {
    const { options } = fakeCallOptions();
    const onStateChange = vi.fn();
    render(<VoiceCallPanel {...options} onStateChange={onStateChange} />);
    const button = screen.getByRole("button", { name: "Start call" });
    button.focus();
    await startCall();
    expect(onStateChange.mock.calls.map((c) => c[0])).toEqual(["connecting", "connected"]);
    expect(screen.getByRole("region").getAttribute("data-state")).toBe("connected");
    // Same element, new text: keyboard focus stays on it.
    expect(screen.getByRole("button", { name: "End call" })).toBe(button);
    expect(document.activeElement).toBe(button);
    expect(screen.queryByRole("button", { name: "Start call" })).toBeNull();
    expect(screen.getByRole("button", { name: "Microphone" }).getAttribute("aria-pressed")).toBe("true");
    expect((screen.getByRole("textbox", { name: "Message" }) as HTMLInputElement).disabled).toBe(false);
  });

  it("shows a typed message exactly once even when the echo arrives, and clears the box", async () => {
    const { options, room } = fakeCallOptions();
    const onMessage = vi.fn();
    render(<VoiceCallPanel {...options} onMessage={onMessage} />);
    await startCall();
    await act(async () => typeAndSend("What are your hours?"));
    await act(async () => typeAndSend("And on Sunday?", "click"));
    act(() => room().receive("voice.reply", { type: "user_text", text: "What are your hours?" }));
    act(() => room().receive("voice.reply", { type: "user_text", text: "And on Sunday?" }));
    expect(bubbles()).toEqual([
      { role: "user", source: "typed", text: "What are your hours?" },
      { role: "user", source: "typed", text: "And on Sunday?" },
    ]);
    expect(room().localParticipant.published).toHaveLength(2);
    expect((screen.getByRole("textbox", { name: "Message" }) as HTMLInputElement).value).toBe("");
    expect(onMessage).toHaveBeenCalledTimes(2);
  });

  it("ignores a blank submission", async () => {
    const { options, room } = fakeCallOptions();
    render(<VoiceCallPanel {...options} />);
    await startCall();
    await act(async () => typeAndSend("   "));
    expect(bubbles()).toEqual([]);
    expect(room().localParticipant.published).toEqual([]);
  });

  it("renders agent replies and spoken transcripts as bubbles, interim text outside the log", async () => {
    const { options, room } = fakeCallOptions();
    render(<VoiceCallPanel {...options} />);
    await startCall();
    act(() => {
      room().receive("voice.reply", { type: "agent_text", text: "Hi! How can I help?" });
      room().receive("voice.events", { type: "agent_state", state: "listening" });
      room().receive("voice.events", { type: "interim", text: "I need" });
    });
    expect(screen.getByText("Listening")).toBeTruthy();
    expect(screen.getByText("I need")).toBeTruthy();
    expect(bubbles()).toHaveLength(1);
    act(() => room().receive("voice.reply", { type: "user_text", text: "I need a table" }));
    expect(screen.queryByText("I need")).toBeNull();
    expect(bubbles()).toEqual([
      { role: "assistant", source: "agent", text: "Hi! How can I help?" },
      { role: "user", source: "speech", text: "I need a table" },
    ]);
    expect(screen.getByRole("region").getAttribute("data-agent-state")).toBe("listening");
  });

  it("shows a polite notice while the agent speaks in its standard voice, and hides it on restore", async () => {
    const { options, room } = fakeCallOptions();
    render(<VoiceCallPanel {...options} />);
    await startCall();
    expect(screen.queryByText(FALLBACK_NOTICE)).toBeNull();

    act(() => room().receive("voice.events", { type: "voice_fallback", voice_model: "elevenlabs", reason: "not_configured" }));
    const notice = screen.getByText(FALLBACK_NOTICE);
    expect(notice.getAttribute("role")).toBe("status");
    expect(screen.getAllByRole("status")).toContain(notice);
    expect(notice.closest("[role='log']")).toBeNull();
    // A notice, not an error: no alert, no bubble, and the call is still up.
    expect(screen.queryByRole("alert")).toBeNull();
    expect(bubbles()).toEqual([]);
    expect(screen.getByRole("button", { name: "End call" })).toBeTruthy();

    act(() => room().receive("voice.events", { type: "voice_restored", voice_model: "elevenlabs" }));
    expect(screen.queryByText(FALLBACK_NOTICE)).toBeNull();
    expect(status()).toBe("Connected");
  });

  it("drops the voice notice when the call ends, and takes a translated text", async () => {
    const { options, room } = fakeCallOptions();
    render(<VoiceCallPanel {...options} labels={{ voiceFallback: "L'agent utilise sa voix standard." }} />);
    await startCall();
    act(() => room().receive("voice.events", { type: "voice_fallback", voice_model: "clone-server", reason: "unavailable" }));
    expect(screen.getByText("L'agent utilise sa voix standard.").getAttribute("role")).toBe("status");
    await act(async () => fireEvent.click(screen.getByRole("button", { name: "End call" })));
    expect(screen.queryByText("L'agent utilise sa voix standard.")).toBeNull();
    expect(status()).toBe("Call ended");
  });

  it("holds a message typed before the agent joined and sends it when it arrives", async () => {
    const { options, room } = fakeCallOptions({ agentPresent: false });
    render(<VoiceCallPanel {...options} />);
    await startCall();
    await act(async () => typeAndSend("early bird"));
    expect(bubbles()).toEqual([{ role: "user", source: "typed", text: "early bird" }]);
    expect(room().localParticipant.published).toEqual([]);
    await act(async () => room().agentJoins());
    expect(room().localParticipant.published).toHaveLength(1);
  });

  it("toggles the microphone with aria-pressed", async () => {
    const { options, room } = fakeCallOptions();
    render(<VoiceCallPanel {...options} />);
    await startCall();
    const mic = screen.getByRole("button", { name: "Microphone" });
    await act(async () => fireEvent.click(mic));
    expect(mic.getAttribute("aria-pressed")).toBe("false");
    expect(room().localParticipant.microphoneEnabled).toBe(false);
    await act(async () => fireEvent.click(mic));
    expect(mic.getAttribute("aria-pressed")).toBe("true");
  });

  it("End call releases the microphone and shows Call ended", async () => {
    const { options, room } = fakeCallOptions();
    render(<VoiceCallPanel {...options} />);
    await startCall();
    const mic = room().localParticipant.microphone!.track.mediaStreamTrack;
    await act(async () => fireEvent.click(screen.getByRole("button", { name: "End call" })));
    expect(mic.readyState).toBe("ended");
    expect(room().disconnectCalls).toBe(1);
    expect(status()).toBe("Call ended");
    expect(screen.getByRole("button", { name: "Start call" })).toBeTruthy();
    expect((screen.getByRole("textbox", { name: "Message" }) as HTMLInputElement).disabled).toBe(true);
    expect(screen.getByRole("button", { name: "Microphone" }).getAttribute("aria-pressed")).toBe("false");
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("ends the call when unmounted", async () => {
    const { options, room } = fakeCallOptions();
    const { unmount } = render(<VoiceCallPanel {...options} />);
    await startCall();
    unmount();
    await waitFor(() => expect(room().disconnectCalls).toBe(1));
    expect(room().localParticipant.microphone!.track.mediaStreamTrack.readyState).toBe("ended");
  });

  it("applies label overrides to every string it shows", async () => {
    const { options } = fakeCallOptions();
    render(
      <VoiceCallPanel
        {...options}
        labels={{
          title: "Assistant vocal",
          statusIdle: "Hors ligne",
          statusConnected: "En ligne",
          startCall: "Appeler",
          endCall: "Raccrocher",
          microphone: "Micro",
          conversation: "Échanges",
          message: "Votre message",
          send: "Envoyer",
          agentLevel: "Niveau agent",
        }}
      />,
    );
    expect(screen.getByRole("region", { name: "Assistant vocal" })).toBeTruthy();
    expect(status()).toBe("Hors ligne");
    expect(screen.getByRole("log", { name: "Échanges" })).toBeTruthy();
    expect(screen.getByRole("textbox", { name: "Votre message" })).toBeTruthy();
    expect(screen.getByRole("button", { name: "Envoyer" })).toBeTruthy();
    expect(screen.getByRole("meter", { name: "Niveau agent" })).toBeTruthy();
    expect(screen.getByRole("meter", { name: "Microphone level" })).toBeTruthy();
    await act(async () => fireEvent.click(screen.getByRole("button", { name: "Appeler" })));
    await waitFor(() => expect(status()).toBe("En ligne"));
    expect(screen.getByRole("button", { name: "Raccrocher" })).toBeTruthy();
    expect(screen.getByRole("button", { name: "Micro" })).toBeTruthy();
  });

  it("shows the error in an alert when the session fetch fails", async () => {
    const fetch = async () =>
      new Response(JSON.stringify({ success: false, message: "Unknown agent" }), { status: 404 });
    render(<VoiceCallPanel sessionUrl="/api/session" sessionRequest={{ agent: "nope" }} fetch={fetch} />);
    await act(async () => fireEvent.click(screen.getByRole("button", { name: "Start call" })));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toBe("Unknown agent");
    expect(screen.getByRole("region").getAttribute("data-state")).toBe("disconnected");
    expect(screen.getByRole("button", { name: "Start call" })).toBeTruthy();
  });

  it("shows an alert when the room drops", async () => {
    const { options, room } = fakeCallOptions();
    render(<VoiceCallPanel {...options} />);
    await startCall();
    act(() => room().emit(RoomEvent.Disconnected));
    expect(screen.getByRole("alert").textContent).toContain("disconnected");
    expect(status()).toBe("Call ended");
  });

  it("shows Reconnecting… while LiveKit reconnects", async () => {
    const { options, room } = fakeCallOptions();
    render(<VoiceCallPanel {...options} />);
    await startCall();
    act(() => room().emit(RoomEvent.Reconnecting));
    expect(status()).toBe("Reconnecting…");
    act(() => room().emit(RoomEvent.Reconnected));
    expect(status()).toBe("Connected");
  });

  it("meters the agent's voice and the microphone", async () => {
    const { frame } = installFakeWebAudio();
    const { options, room } = fakeCallOptions();
    render(<VoiceCallPanel {...options} />);
    await startCall();
    act(() => {
      agentSpeaks(room());
    });
    act(frame);
    // Fake samples are a constant 0.2: RMS 0.2, times the default gain 3.
    expect(screen.getByRole("meter", { name: "Agent audio level" }).getAttribute("aria-valuenow")).toBe("60");
    expect(screen.getByRole("meter", { name: "Microphone level" }).getAttribute("aria-valuenow")).toBe("60");
    await act(async () => fireEvent.click(screen.getByRole("button", { name: "Microphone" })));
    expect(screen.getByRole("meter", { name: "Microphone level" }).getAttribute("aria-valuenow")).toBe("0");
  });

  it("starts on mount with autoStart, and is exported as VocableCall too", async () => {
    const { options, rooms } = fakeCallOptions();
    render(<VocableCall {...options} autoStart />);
    await waitFor(() => expect(status()).toBe("Connected"));
    expect(rooms).toHaveLength(1);
    expect(VocableCall).toBe(VoiceCallPanel);
  });

  it("leaves exactly one live call under StrictMode's double effects", async () => {
    const { options, rooms } = fakeCallOptions();
    render(
      <StrictMode>
        <VoiceCallPanel {...options} autoStart />
      </StrictMode>,
    );
    await waitFor(() => expect(status()).toBe("Connected"));
    const live = rooms.filter((room) => room.connectedWith && room.disconnectCalls === 0);
    expect(live).toHaveLength(1);
  });

  it("keeps every control a native, focusable element", () => {
    const { options } = fakeCallOptions();
    const { container } = render(<VoiceCallPanel {...options} />);
    expect(container.querySelectorAll("[tabindex='-1']")).toHaveLength(0);
    for (const button of screen.getAllByRole("button")) expect(button.tagName).toBe("BUTTON");
  });
});
