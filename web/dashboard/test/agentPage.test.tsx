import "./mockCallPanel";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { App } from "../src/App";
import { callPanel } from "./mockCallPanel";
import { ENGINES, USER, agentFixture, envelopeError, fakeApi } from "./fakeApi";

function signedInApi(extra: Parameters<typeof fakeApi>[0] = {}) {
  return fakeApi({
    "GET /api/auth/me": USER,
    "GET /api/engines": ENGINES,
    "GET /api/agents/agt_123": agentFixture(),
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

describe("agent page", () => {
  it("shows the Agent ID and the form filled from the agent", async () => {
    signedInApi();
    await openAgent();
    expect(screen.getByTestId("agent-id").textContent).toBe("agt_123");
    expect((screen.getByLabelText("Name") as HTMLInputElement).value).toBe("Front desk");
    expect((screen.getByLabelText("Language") as HTMLInputElement).value).toBe("en");
    expect((screen.getByLabelText("Speech-to-text") as HTMLSelectElement).value).toBe("auto");
    expect((screen.getByLabelText("Active") as HTMLInputElement).checked).toBe(true);
    expect(screen.getByRole("heading", { name: "Knowledge base" })).toBeTruthy();
    expect(screen.getByRole("heading", { name: "Tools (MCP servers)" })).toBeTruthy();
    expect(screen.getByRole("heading", { name: "Try it" })).toBeTruthy();
  });

  it("saves with PATCH carrying only the changed fields and the CSRF header", async () => {
    document.cookie = "vocable_csrf=csrf-1";
    const api = signedInApi({ "PATCH /api/agents/agt_123": (req) => agentFixture(req.body as Record<string, unknown>) });
    await openAgent();
    fireEvent.change(screen.getByLabelText("Greeting"), { target: { value: "Welcome!" } });
    fireEvent.change(screen.getByLabelText("Max call seconds"), { target: { value: "600" } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    await screen.findByText("Saved.");
    const [patch] = api.find("PATCH", "/api/agents/agt_123");
    expect(patch?.body).toEqual({ greeting: "Welcome!", max_call_seconds: 600 });
    expect(patch?.headers["x-csrf-token"]).toBe("csrf-1");
  });

  it("shows an API field error next to its field and other errors in an alert", async () => {
    signedInApi({
      "PATCH /api/agents/agt_123": {
        status: 422,
        body: envelopeError("invalid_request", "Invalid request: check language", [
          { field: "language", message: "the auto speech-to-text engine cannot transcribe this language" },
        ]),
      },
    });
    await openAgent();
    const language = screen.getByLabelText("Language") as HTMLInputElement;
    fireEvent.change(language, { target: { value: "tlh" } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    const message = await screen.findByText(/cannot transcribe this language/);
    expect(language.getAttribute("aria-invalid")).toBe("true");
    expect(language.getAttribute("aria-describedby")?.split(" ")).toContain(message.id);
    // the field error is next to the field, not (also) in an alert banner
    expect(screen.queryByRole("alert")).toBeNull();
    const name = screen.getByLabelText("Name");
    expect(name.getAttribute("aria-invalid")).toBeNull();
  });

  it("puts errors for no form field in a role=alert banner", async () => {
    signedInApi({
      "PATCH /api/agents/agt_123": { status: 503, body: envelopeError("unavailable", "Service temporarily unavailable, retry shortly") },
    });
    await openAgent();
    fireEvent.change(screen.getByLabelText("System prompt"), { target: { value: "New prompt" } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("Service temporarily unavailable");
  });

  it("checks required fields before calling the API", async () => {
    const api = signedInApi();
    await openAgent();
    fireEvent.change(screen.getByLabelText("Name"), { target: { value: "  " } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    const name = screen.getByLabelText("Name");
    expect(name.getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByText("Give the agent a name")).toBeTruthy();
    expect(api.find("PATCH", "/api/agents")).toHaveLength(0);
  });

  it("creates an agent on /agents/new and opens it", async () => {
    const api = signedInApi({
      "POST /api/agents": { status: 201, body: agentFixture({ name: "Sales" }) },
    });
    window.history.replaceState(null, "", "/agents/new");
    render(<App />);
    fireEvent.change(await screen.findByLabelText("Name"), { target: { value: "Sales" } });
    fireEvent.click(screen.getByRole("button", { name: "Create agent" }));
    await screen.findByTestId("agent-id");
    expect(window.location.pathname).toBe("/agents/agt_123");
    expect(api.find("POST", "/api/agents")[0]?.body).toMatchObject({ name: "Sales", language: "en", stt_engine: "auto", voice_model: null });
  });

  it("gives the call panel a session from the dashboard's test-session endpoint", async () => {
    document.cookie = "vocable_csrf=csrf-2";
    const data = { token: "t", livekit_url: "ws://lk", room_name: "r", session_id: "s", participant_identity: "u", expires_in_seconds: 600 };
    const api = signedInApi({ "POST /api/agents/agt_123/test-session": { success: true, message: "Request successful", data } });
    await openAgent();
    const section = screen.getByRole("heading", { name: "Try it" }).closest("section") as HTMLElement;
    expect(within(section).getByTestId("voice-call-panel")).toBeTruthy();
    const getSession = callPanel.props?.["getSession"] as () => Promise<unknown>;
    await expect(getSession()).resolves.toEqual(data);
    expect(api.find("POST", "/api/agents/agt_123/test-session")[0]?.headers["x-csrf-token"]).toBe("csrf-2");
  });

  it("deletes the agent after confirmation", async () => {
    const api = signedInApi({ "DELETE /api/agents/agt_123": { status: 204 }, "GET /api/agents": [] });
    await openAgent();
    fireEvent.click(screen.getByRole("button", { name: "Delete agent" }));
    expect(api.find("DELETE", "/api/agents")).toHaveLength(0);
    fireEvent.click(screen.getByRole("button", { name: "Yes, delete agent" }));
    await waitFor(() => expect(window.location.pathname).toBe("/agents"));
    expect(api.find("DELETE", "/api/agents/agt_123")).toHaveLength(1);
  });

  it("uploads a reference clip, shows a refusal next to the file input, then plays the stored clip", async () => {
    document.cookie = "vocable_csrf=csrf-3";
    let attempt = 0;
    const api = signedInApi({
      "PUT /api/agents/agt_123/voice": () =>
        ++attempt === 1
          ? {
              status: 422,
              body: envelopeError("invalid_audio", "The clip is too short", [{ field: "file", message: "the clip must be at least 3 seconds long" }]),
            }
          : agentFixture({ voice_id: "voi_1" }),
    });
    await openAgent();
    expect(screen.queryByText("No clip uploaded yet.")).toBeTruthy();
    const input = screen.getByLabelText("Reference clip") as HTMLInputElement;
    const clip = new File(["RIFF0000WAVE"], "me.wav", { type: "audio/wav" });
    fireEvent.change(input, { target: { files: [clip] } });
    fireEvent.click(screen.getByRole("button", { name: "Upload clip" }));
    const message = await screen.findByText("the clip must be at least 3 seconds long");
    expect(input.getAttribute("aria-invalid")).toBe("true");
    expect(input.getAttribute("aria-describedby")?.split(" ")).toContain(message.id);

    fireEvent.change(input, { target: { files: [clip] } });
    fireEvent.click(screen.getByRole("button", { name: "Upload clip" }));
    await screen.findByText("Reference clip uploaded.");
    const audio = document.querySelector("audio");
    expect(audio?.getAttribute("src")).toBe("/api/agents/agt_123/voice?v=voi_1");
    const uploads = api.find("PUT", "/api/agents/agt_123/voice");
    expect(uploads).toHaveLength(2);
    expect((uploads[1]?.body as FormData).get("file")).toBeTruthy();
    expect(uploads[1]?.headers["x-csrf-token"]).toBe("csrf-3");
  });

  it("links an existing voice of the organisation and shows the stored voice's provenance", async () => {
    const voice = (id: string, extra: Record<string, unknown> = {}) => ({
      id,
      name: "Narrator",
      sha256: `sha-${id}`,
      duration_seconds: 6.25,
      sample_rate: 24000,
      size_bytes: 300000,
      source: "upload",
      source_url: null,
      source_format: "wav",
      created_by_kind: "user",
      created_by_id: USER.id,
      created_at: "2025-01-01T10:00:00Z",
      ...extra,
    });
    const voices = [
      voice("voi_2", { name: "clip.mp3", source: "url", source_url: "https://cdn.example.com/clip.mp3", created_by_kind: "api_key", created_by_id: "key_7" }),
      voice("voi_1"),
    ];
    const api = signedInApi({
      "GET /api/agents/agt_123": agentFixture({ voice_id: "voi_1" }),
      "GET /api/voices": voices,
      "PATCH /api/agents/agt_123": (req) => agentFixture(req.body as Record<string, unknown>),
    });
    await openAgent();
    const provenance = await screen.findByTestId("voice-provenance");
    expect(provenance.textContent).toContain("Narrator");
    expect(provenance.textContent).toContain("6.3 s");
    expect(provenance.textContent).toMatch(/Uploaded .* by you/);

    const picker = screen.getByLabelText("Organisation voice") as HTMLSelectElement;
    expect(picker.value).toBe("voi_1");
    fireEvent.change(picker, { target: { value: "voi_2" } });
    fireEvent.click(screen.getByRole("button", { name: "Use this voice" }));
    await screen.findByText("Voice linked.");
    expect(api.find("PATCH", "/api/agents/agt_123")[0]?.body).toEqual({ voice_id: "voi_2" });
    await waitFor(() => expect(screen.getByTestId("voice-provenance").textContent).toContain("Fetched from https://cdn.example.com/clip.mp3"));
    expect(screen.getByTestId("voice-provenance").textContent).toContain("an API key (key_7)");
  });

  it("shows a refused reference audio URL next to its field", async () => {
    signedInApi({
      "PATCH /api/agents/agt_123": {
        status: 422,
        body: envelopeError("not_audio", "The URL did not return audio", [{ field: "reference_audio_url", message: "The URL did not return audio" }]),
      },
    });
    await openAgent();
    const input = screen.getByLabelText("Reference audio URL");
    expect(input.getAttribute("aria-describedby")).toBeTruthy();
    expect(document.getElementById(input.getAttribute("aria-describedby") ?? "")?.textContent).toContain("fetched and checked when you save it");
    fireEvent.change(input, { target: { value: "https://example.com/page.html" } });
    fireEvent.click(screen.getByRole("button", { name: "Update voice URL" }));
    const message = await screen.findByText("The URL did not return audio");
    expect(input.getAttribute("aria-invalid")).toBe("true");
    expect(input.getAttribute("aria-describedby")?.split(" ")).toContain(message.id);
  });
});

describe("voice engine setting", () => {
  const voiceEngine = () => screen.getByLabelText("Voice engine") as HTMLSelectElement;
  const optionTexts = (select: HTMLSelectElement) => Array.from(select.options).map((o) => o.textContent);

  it("offers the deployment default and the engines of /api/engines voice", async () => {
    signedInApi();
    await openAgent();
    const select = voiceEngine();
    expect(select.tagName).toBe("SELECT");
    expect(select.value).toBe("");
    expect(optionTexts(select)).toEqual(["Deployment default", "embedded", "clone-server (hosted)", "elevenlabs (hosted)"]);
    const hint = document.getElementById(select.getAttribute("aria-describedby") ?? "");
    expect(hint?.textContent).toContain("default");
    fireEvent.change(select, { target: { value: "elevenlabs" } });
    expect(document.getElementById(select.getAttribute("aria-describedby") ?? "")?.textContent).toContain(
      "If it cannot be used, calls go on in the agent's standard voice",
    );
    expect(screen.getByText("Unsaved changes")).toBeTruthy();
  });

  it("saves a chosen engine with PATCH, and the deployment default as null", async () => {
    const api = signedInApi({ "PATCH /api/agents/agt_123": (req) => agentFixture(req.body as Record<string, unknown>) });
    await openAgent();
    fireEvent.change(voiceEngine(), { target: { value: "elevenlabs" } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    await screen.findByText("Saved.");
    expect(voiceEngine().value).toBe("elevenlabs");

    fireEvent.change(voiceEngine(), { target: { value: "" } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    await waitFor(() => expect(api.find("PATCH", "/api/agents/agt_123")).toHaveLength(2));
    const bodies = api.find("PATCH", "/api/agents/agt_123").map((r) => r.body);
    expect(bodies).toEqual([{ voice_model: "elevenlabs" }, { voice_model: null }]);
  });

  it("shows the saved engine, even one this deployment no longer lists", async () => {
    signedInApi({ "GET /api/agents/agt_123": agentFixture({ voice_model: "retired-engine" }) });
    await openAgent();
    expect(voiceEngine().value).toBe("retired-engine");
    expect(optionTexts(voiceEngine())).toContain("retired-engine");
    expect(screen.queryByText("Unsaved changes")).toBeNull();
  });

  it("shows a 422 naming voice_model next to the select", async () => {
    signedInApi({
      "PATCH /api/agents/agt_123": {
        status: 422,
        body: envelopeError("invalid_request", "Invalid request: check voice_model", [
          { field: "voice_model", message: "unknown voice engine; choose one of GET /api/engines" },
        ]),
      },
    });
    await openAgent();
    fireEvent.change(voiceEngine(), { target: { value: "clone-server" } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    const message = await screen.findByText(/unknown voice engine/);
    const select = voiceEngine();
    expect(select.getAttribute("aria-invalid")).toBe("true");
    expect(select.getAttribute("aria-describedby")?.split(" ")).toContain(message.id);
    expect(screen.queryByRole("alert")).toBeNull();
    // choosing again clears the message
    fireEvent.change(select, { target: { value: "elevenlabs" } });
    expect(select.getAttribute("aria-invalid")).toBeNull();
  });

  it("offers only the default when the API lists no voice engines", async () => {
    const { voice: _voice, ...withoutVoice } = ENGINES;
    signedInApi({ "GET /api/engines": withoutVoice });
    await openAgent();
    expect(optionTexts(voiceEngine())).toEqual(["Deployment default"]);
  });

  it("creates an agent with the chosen engine, or null for the default", async () => {
    const api = signedInApi({ "POST /api/agents": { status: 201, body: agentFixture({ name: "Sales" }) } });
    window.history.replaceState(null, "", "/agents/new");
    render(<App />);
    fireEvent.change(await screen.findByLabelText("Name"), { target: { value: "Sales" } });
    expect(voiceEngine().value).toBe("");
    fireEvent.change(voiceEngine(), { target: { value: "clone-server" } });
    fireEvent.click(screen.getByRole("button", { name: "Create agent" }));
    await screen.findByTestId("agent-id");
    expect(api.find("POST", "/api/agents")[0]?.body).toMatchObject({ name: "Sales", voice_model: "clone-server" });
  });
});
