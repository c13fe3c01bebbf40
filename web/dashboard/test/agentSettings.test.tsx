import "./mockCallPanel";
import { fireEvent, render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { App } from "../src/App";
import { changedFields, valuesFromAgent } from "../src/agent/form";
import { splitErrors } from "../src/formErrors";
import { ApiError, type Agent } from "../src/api";
import { ENGINES, USER, agentFixture, envelopeError, fakeApi } from "./fakeApi";

const SAVED = {
  conversation: {
    first_message: "agent",
    interruptions: true,
    interruption_min_seconds: 0.4,
    interruption_min_words: 0,
    silence_timeout_seconds: null,
    silence_reminder: "Are you still there?",
    silence_reminders: 2,
    end_call_phrases: ["that is all"],
    goodbye: "Goodbye!",
    temperature: 0.4,
    max_reply_tokens: 160,
  },
  call_tools: {
    end_call: { enabled: false, description: "End the call when done." },
    transfer_to_human: { enabled: false, description: "Hand over to a person.", message: "One moment, please." },
  },
  session_overrides: ["system_prompt", "greeting", "language", "voice", "variables"],
};

function signedInApi(extra: Parameters<typeof fakeApi>[0] = {}, agent: Record<string, unknown> = SAVED) {
  return fakeApi({
    "GET /api/auth/me": USER,
    "GET /api/engines": ENGINES,
    "GET /api/agents/agt_123": agentFixture(agent),
    "GET /api/agents/agt_123/sessions?limit=10": [],
    "GET /api/agents/agt_123/knowledge": [],
    "GET /api/agents/agt_123/mcp-servers": [],
    "GET /api/agents/agt_123/tools": [],
    "GET /api/voices": [],
    ...extra,
  });
}

async function openAgent() {
  window.history.replaceState(null, "", "/agents/agt_123");
  render(<App />);
  await screen.findByTestId("agent-id");
}

const group = (name: string) => screen.getByRole("group", { name });

describe("agent settings: conversation, built-in tools, overrides", () => {
  it("fills the sections from the agent", async () => {
    signedInApi();
    await openAgent();
    const conversation = group("Conversation");
    expect((within(conversation).getByRole("radio", { name: /^The agent/ }) as HTMLInputElement).checked).toBe(true);
    expect((within(conversation).getByLabelText("Callers can interrupt the agent") as HTMLInputElement).checked).toBe(true);
    expect((within(conversation).getByLabelText("Remind the caller after a silence") as HTMLInputElement).checked).toBe(false);
    // off: the timeout's own inputs are disabled
    expect((within(conversation).getByLabelText("Silence timeout (seconds)") as HTMLInputElement).disabled).toBe(true);
    expect((within(conversation).getByLabelText("End-call phrases") as HTMLTextAreaElement).value).toBe("that is all");
    expect((within(conversation).getByLabelText("Temperature") as HTMLInputElement).value).toBe("0.4");
    expect((within(group("Built-in tools")).getByLabelText("Transfer message") as HTMLInputElement).value).toBe("One moment, please.");
    const overrides = within(group("What a session may override")).getAllByRole("checkbox") as HTMLInputElement[];
    expect(overrides.map((c) => c.checked)).toEqual([true, true, true, true, true]);
    expect(group("What a session may override").textContent).toContain("Try it call is not limited");
  });

  it("saves only the changed settings with PATCH, nested as the API merges them", async () => {
    const api = signedInApi({
      "PATCH /api/agents/agt_123": (req) => agentFixture({ ...SAVED, ...(req.body as Record<string, unknown>) }),
    });
    await openAgent();
    fireEvent.click(screen.getByRole("radio", { name: /^The caller/ }));
    fireEvent.click(screen.getByLabelText("Remind the caller after a silence"));
    fireEvent.change(screen.getByLabelText("Silence timeout (seconds)"), { target: { value: "20" } });
    fireEvent.change(screen.getByLabelText("End-call phrases"), { target: { value: "that is all\n\n  goodbye  \n" } });
    fireEvent.change(screen.getByLabelText("Temperature"), { target: { value: "0.7" } });
    fireEvent.click(screen.getByLabelText("Transfer to a human"));
    fireEvent.click(within(group("What a session may override")).getByRole("checkbox", { name: /System prompt/ }));
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    await screen.findByText("Saved.");
    const [patch] = api.find("PATCH", "/api/agents/agt_123");
    expect(patch?.body).toEqual({
      conversation: {
        first_message: "caller",
        silence_timeout_seconds: 20,
        end_call_phrases: ["that is all", "goodbye"],
        temperature: 0.7,
      },
      call_tools: { transfer_to_human: { enabled: true } },
      session_overrides: ["greeting", "language", "voice", "variables"],
    });
  });

  it("switching the silence timeout off sends null", async () => {
    const api = signedInApi(
      { "PATCH /api/agents/agt_123": (req) => agentFixture(req.body as Record<string, unknown>) },
      { ...SAVED, conversation: { ...SAVED.conversation, silence_timeout_seconds: 45 } },
    );
    await openAgent();
    expect((screen.getByLabelText("Silence timeout (seconds)") as HTMLInputElement).value).toBe("45");
    fireEvent.click(screen.getByLabelText("Remind the caller after a silence"));
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    await screen.findByText("Saved.");
    expect(api.find("PATCH", "/api/agents/agt_123")[0]?.body).toEqual({ conversation: { silence_timeout_seconds: null } });
  });

  it("shows a 422 on conversation.temperature next to the Temperature field", async () => {
    signedInApi({
      "PATCH /api/agents/agt_123": {
        status: 422,
        body: envelopeError("invalid_request", "Invalid request: check conversation.temperature", [
          { field: "conversation.temperature", message: "Input should be less than or equal to 2" },
        ]),
      },
    });
    await openAgent();
    const temperature = screen.getByLabelText("Temperature") as HTMLInputElement;
    fireEvent.change(temperature, { target: { value: "3" } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    const message = await screen.findByText("Input should be less than or equal to 2");
    expect(temperature.getAttribute("aria-invalid")).toBe("true");
    expect(temperature.getAttribute("aria-describedby")?.split(" ")).toContain(message.id);
    expect(screen.queryByRole("alert")).toBeNull();
    // editing the field clears its error
    fireEvent.change(temperature, { target: { value: "1" } });
    expect(temperature.getAttribute("aria-invalid")).toBeNull();
  });

  it("shows a 422 inside the end-call phrases and on a tool's description next to those fields", async () => {
    signedInApi({
      "PATCH /api/agents/agt_123": {
        status: 422,
        body: envelopeError("invalid_request", "Invalid request", [
          { field: "conversation.end_call_phrases.1", message: "each phrase must be at most 100 characters without NUL" },
          { field: "call_tools.transfer_to_human.message", message: "String should have at most 300 characters" },
        ]),
      },
    });
    await openAgent();
    fireEvent.change(screen.getByLabelText("Goodbye"), { target: { value: "Bye" } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    await screen.findByText(/each phrase must be/);
    expect(screen.getByLabelText("End-call phrases").getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByLabelText("Transfer message").getAttribute("aria-invalid")).toBe("true");
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("checks numbers before calling the API", async () => {
    const api = signedInApi();
    await openAgent();
    fireEvent.change(screen.getByLabelText("Max reply length (tokens)"), { target: { value: "12.5" } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    expect(screen.getByText("Enter a whole number of tokens")).toBeTruthy();
    expect(screen.getByLabelText("Max reply length (tokens)").getAttribute("aria-invalid")).toBe("true");
    expect(api.find("PATCH", "/api/agents")).toHaveLength(0);
  });
});

describe("agent settings logic", () => {
  it("reads an agent saved before these settings as the defaults, and sends nothing for them", () => {
    const agent = agentFixture() as unknown as Agent; // no conversation, call_tools or session_overrides
    const values = valuesFromAgent(agent);
    expect(values.first_message).toBe("agent");
    expect(values.silence_timeout).toBe(false);
    expect(values.max_reply_tokens).toBe("160");
    expect(values.session_overrides).toEqual(["system_prompt", "greeting", "language", "voice", "variables"]);
    expect(changedFields(agent, values)).toEqual({});
    expect(changedFields(agent, { ...values, end_call_enabled: true, interruption_min_words: "2" })).toEqual({
      conversation: { interruption_min_words: 2 },
      call_tools: { end_call: { enabled: true } },
    });
  });

  it("maps an error inside a known field to that field", () => {
    const error = new ApiError(422, "invalid_request", "Invalid", [
      { field: "session_overrides.0", message: "not one of the five" },
      { field: "conversation.shout", message: "Extra inputs are not permitted" },
    ]);
    expect(splitErrors(error, ["session_overrides", "conversation.temperature"])).toEqual({
      fields: { session_overrides: "not one of the five" },
      banner: "Invalid (conversation.shout: Extra inputs are not permitted)",
    });
  });
});
