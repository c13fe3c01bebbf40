import { act, cleanup, fireEvent, render, renderHook, screen, waitFor } from "@testing-library/react";
import { DisconnectReason, RoomEvent } from "livekit-client";
import { afterEach, describe, expect, it, vi } from "vitest";
import { VoiceCallPanel, useVoiceCall } from "../src/index.js";
import { fakeCallOptions } from "./helpers.js";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const HANDOFF = { type: "handoff", reason: "billing dispute", summary: "Wants a refund for May." };

async function startCall(): Promise<void> {
  await act(async () => {
    fireEvent.click(screen.getByRole("button", { name: "Start call" }));
  });
  await waitFor(() => expect(screen.getByRole("button", { name: "End call" })).toBeTruthy());
}

describe("useVoiceCall: handoff", () => {
  it("exposes the handoff, calls onHandoff, keeps it after the call ends and clears it on start", async () => {
    const { options, rooms } = fakeCallOptions();
    const onHandoff = vi.fn();
    const { result } = renderHook(() => useVoiceCall({ ...options, onHandoff }));
    expect(result.current.handoff).toBeNull();
    await act(() => result.current.start());
    act(() => rooms[0]!.receive("voice.events", HANDOFF));
    expect(result.current.handoff).toEqual({ reason: "billing dispute", summary: "Wants a refund for May." });
    expect(onHandoff).toHaveBeenCalledWith({ reason: "billing dispute", summary: "Wants a refund for May." });
    expect(result.current.messages).toEqual([]);
    expect(result.current.error).toBeNull();

    await act(() => result.current.end());
    expect(result.current.handoff).not.toBeNull();
    await act(() => result.current.start());
    expect(result.current.handoff).toBeNull();
    // the previous call's room no longer reaches the hook
    act(() => rooms[0]!.receive("voice.events", HANDOFF));
    expect(result.current.handoff).toBeNull();
    expect(onHandoff).toHaveBeenCalledTimes(1);
  });

  it("ignores a malformed handoff, like other malformed events", async () => {
    const { options, room } = fakeCallOptions();
    const onHandoff = vi.fn();
    const { result } = renderHook(() => useVoiceCall({ ...options, onHandoff }));
    await act(() => result.current.start());
    act(() => room().receive("voice.events", { type: "handoff", reason: 3, summary: "x" }));
    act(() => room().receive("voice.events", { type: "handoff" }));
    expect(result.current.handoff).toBeNull();
    expect(onHandoff).not.toHaveBeenCalled();
    expect(result.current.error).toBeNull();
  });
});

describe("VoiceCallPanel: handoff", () => {
  it("shows 'Connecting you with a person…' and the reason, and no disconnect alert when the agent then ends the call", async () => {
    const { options, room } = fakeCallOptions();
    render(<VoiceCallPanel {...options} />);
    await startCall();
    expect(screen.queryByText("Connecting you with a person…")).toBeNull();
    act(() => room().receive("voice.events", HANDOFF));
    const title = screen.getByText("Connecting you with a person…");
    const notice = title.closest(".vocable-call__handoff") as HTMLElement;
    expect(notice.getAttribute("role")).toBe("status");
    expect(notice.textContent).toContain("Reason: billing dispute");
    // the summary is for the business, not read out to the caller
    expect(notice.textContent).not.toContain("refund");
    expect(notice.closest("[role='log']")).toBeNull();

    act(() => room().emit(RoomEvent.Disconnected, DisconnectReason.ROOM_DELETED));
    expect(screen.queryByRole("alert")).toBeNull();
    expect(screen.getByText("Connecting you with a person…")).toBeTruthy();
  });

  it("lets the page translate the notice or replace it", async () => {
    const first = fakeCallOptions();
    const { unmount } = render(<VoiceCallPanel {...first.options} labels={{ handoff: "Un instant…", handoffReason: "Motif :" }} />);
    await startCall();
    act(() => first.room().receive("voice.events", { ...HANDOFF, reason: "" }));
    expect(screen.getByText("Un instant…")).toBeTruthy();
    expect(screen.queryByText(/Motif/)).toBeNull(); // no reason given: no reason line
    unmount();

    const second = fakeCallOptions();
    render(
      <VoiceCallPanel
        {...second.options}
        renderHandoff={(h) => <a href="/chat" data-testid="chat-link">Chat with us about {h.reason}</a>}
      />,
    );
    await startCall();
    act(() => second.room().receive("voice.events", HANDOFF));
    expect(screen.getByTestId("chat-link").textContent).toBe("Chat with us about billing dispute");
    expect(screen.queryByText("Connecting you with a person…")).toBeNull();
  });
});
