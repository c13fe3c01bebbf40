import "./mockCallPanel";
import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { App } from "../src/App";
import { endReasonLabel } from "../src/calls";
import { USER, agentFixture, fakeApi } from "./fakeApi";

const RECORD = {
  id: "ses_1",
  agent_id: "agt_123",
  room_name: "room_1",
  status: "ended",
  created_at: "2025-01-01T10:00:00Z",
  started_at: "2025-01-01T10:00:02Z",
  ended_at: "2025-01-01T10:02:02Z",
  end_reason: "caller_left",
  usage: { turns: 2, duration_seconds: 120.2, models: [{ model: "qwen", input_tokens: 31 }] },
};

describe("calls", () => {
  it("lists calls with agent, status, duration and end reason", async () => {
    fakeApi({ "GET /api/auth/me": USER, "GET /api/sessions?limit=50": [RECORD], "GET /api/agents": [agentFixture()] });
    window.history.replaceState(null, "", "/calls");
    render(<App />);
    const agentLink = await screen.findByRole("link", { name: "Front desk" });
    expect(agentLink.getAttribute("href")).toBe("/agents/agt_123");
    expect(screen.getByText("Ended")).toBeTruthy();
    expect(screen.getByText("2:00")).toBeTruthy();
    expect(screen.getByText("Caller left")).toBeTruthy();
  });

  it("shows the transcript with per-turn latency in ms, usage and end reason", async () => {
    fakeApi({
      "GET /api/auth/me": USER,
      "GET /api/agents": [agentFixture()],
      "GET /api/sessions/ses_1": {
        ...RECORD,
        turns: [
          { seq: 1, role: "agent", text: "Hello!", metrics: { tts_node_ttfb: 0.18 }, created_at: "2025-01-01T10:00:03Z" },
          { seq: 0, role: "user", text: "Hi, I need help", metrics: {}, created_at: "2025-01-01T10:00:02Z" },
        ],
      },
    });
    window.history.replaceState(null, "", "/calls/ses_1");
    render(<App />);
    await screen.findByText("Hi, I need help");
    const items = screen.getAllByRole("listitem").filter((li) => li.classList.contains("turn"));
    expect(items.map((li) => li.querySelector(".turn__text")?.textContent)).toEqual(["Hi, I need help", "Hello!"]);
    expect(screen.getByText("TTS TTFB")).toBeTruthy();
    expect(screen.getByText("180 ms")).toBeTruthy();
    expect(screen.getByText("Caller left")).toBeTruthy();
    expect(screen.getByText("Input tokens")).toBeTruthy();
  });
});

describe("end reasons and handoffs", () => {
  it("labels the end reasons for people, new ones included", () => {
    expect(endReasonLabel("silence_timeout")).toBe("Silence: no answer to the reminders");
    expect(endReasonLabel("end_call_phrase")).toBe("Caller said an end-call phrase");
    expect(endReasonLabel("agent_ended")).toBe("Agent ended the call");
    expect(endReasonLabel("transferred")).toBe("Transferred to a person");
    expect(endReasonLabel("caller_left")).toBe("Caller left");
    expect(endReasonLabel("duplicate_join")).toBe("Duplicate join");
    expect(endReasonLabel(null)).toBe("—");
  });

  it("shows the handoff's reason and summary on the call page, and the label in the list", async () => {
    const transferred = {
      ...RECORD,
      end_reason: "transferred",
      usage: { ...RECORD.usage, conversation: { silence_reminders: 0, handoff: { reason: "billing dispute", summary: "Wants a refund for May." } } },
    };
    fakeApi({ "GET /api/auth/me": USER, "GET /api/agents": [agentFixture()], "GET /api/sessions/ses_1": { ...transferred, turns: [] } });
    window.history.replaceState(null, "", "/calls/ses_1");
    render(<App />);
    const heading = await screen.findByRole("heading", { name: "Handed over to a person" });
    const card = heading.closest("section") as HTMLElement;
    expect(card.textContent).toContain("billing dispute");
    expect(card.textContent).toContain("Wants a refund for May.");
    expect(screen.getByText("Transferred to a person")).toBeTruthy();
  });

  it("shows no handoff card for a call without one", async () => {
    fakeApi({ "GET /api/auth/me": USER, "GET /api/agents": [agentFixture()], "GET /api/sessions/ses_1": { ...RECORD, turns: [] } });
    window.history.replaceState(null, "", "/calls/ses_1");
    render(<App />);
    await screen.findByText("Caller left");
    expect(screen.queryByRole("heading", { name: "Handed over to a person" })).toBeNull();
  });
});
