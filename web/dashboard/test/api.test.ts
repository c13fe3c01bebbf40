import { describe, expect, it, vi } from "vitest";
import {
  ApiError,
  createKey,
  createTestSession,
  deleteAgent,
  errorFromBody,
  getMe,
  listAgents,
  readCookie,
  setUnauthorizedHandler,
  updateAgent,
  uploadVoice,
} from "../src/api";
import { envelopeError, fakeApi } from "./fakeApi";

describe("api client", () => {
  it("sends the CSRF cookie's value in x-csrf-token on writes, with same-origin credentials", async () => {
    document.cookie = "vocable_csrf=tok%2Ben";
    const api = fakeApi({ "POST /api/keys": { status: 201, body: { id: "key_1", key: "sk_x" } } });
    await createKey({ name: "Backend", scopes: ["sessions:create"], agent_ids: [] });
    const [req] = api.received;
    expect(req?.headers["x-csrf-token"]).toBe("tok+en");
    expect(req?.headers["content-type"]).toBe("application/json");
    expect(req?.credentials).toBe("same-origin");
    expect(req?.body).toEqual({ name: "Backend", scopes: ["sessions:create"], agent_ids: [] });
  });

  it("sends no CSRF header on reads", async () => {
    document.cookie = "vocable_csrf=abc";
    const api = fakeApi({ "GET /api/agents": [] });
    await listAgents();
    expect(api.received[0]?.headers["x-csrf-token"]).toBeUndefined();
    expect(api.received[0]?.credentials).toBe("same-origin");
  });

  it("parses the error envelope into status, code, message and field errors", async () => {
    fakeApi({
      "PATCH /api/agents/agt_1": {
        status: 422,
        body: envelopeError("invalid_request", "Invalid request: check language", [
          { field: "language", message: "the auto speech-to-text engine cannot transcribe this language" },
        ]),
      },
    });
    const error = await updateAgent("agt_1", { language: "tlh" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    const apiError = error as ApiError;
    expect(apiError.status).toBe(422);
    expect(apiError.code).toBe("invalid_request");
    expect(apiError.message).toBe("Invalid request: check language");
    expect(apiError.fieldMessage("language")).toMatch(/cannot transcribe/);
    expect(apiError.fieldMessage("name")).toBeUndefined();
  });

  it("copes with error bodies that are not the envelope", () => {
    expect(errorFromBody(502, undefined)).toMatchObject({ status: 502, code: "http_error", errors: [] });
    expect(errorFromBody(500, { message: "", errors: [{ nope: 1 }, { field: "x" }] })).toMatchObject({
      message: "Request failed (HTTP 500)",
      errors: [{ field: "x", message: "invalid value" }],
    });
  });

  it("reports an unreachable API as status 0", async () => {
    vi.stubGlobal("fetch", vi.fn(() => Promise.reject(new TypeError("Failed to fetch"))));
    await expect(listAgents()).rejects.toMatchObject({ status: 0, code: "network_error" });
  });

  it("returns nothing for 204 answers", async () => {
    fakeApi({ "DELETE /api/agents/agt_1": { status: 204 } });
    await expect(deleteAgent("agt_1")).resolves.toBeUndefined();
  });

  it("tells the app about a lost session on 401, except for the sign-in probe", async () => {
    const lost = vi.fn();
    setUnauthorizedHandler(lost);
    fakeApi({
      "GET /api/agents": { status: 401, body: envelopeError("unauthorized", "Sign in required") },
      "GET /api/auth/me": { status: 401, body: envelopeError("unauthorized", "Sign in required") },
    });
    await expect(getMe()).rejects.toMatchObject({ status: 401 });
    expect(lost).not.toHaveBeenCalled();
    await expect(listAgents()).rejects.toMatchObject({ status: 401 });
    expect(lost).toHaveBeenCalledOnce();
  });

  it("uploads the reference clip as multipart field `file` with the CSRF header", async () => {
    document.cookie = "vocable_csrf=abc";
    const api = fakeApi({ "PUT /api/agents/agt_1/voice": { id: "agt_1" } });
    await uploadVoice("agt_1", new Blob(["RIFF...."], { type: "audio/wav" }), "me.wav");
    const req = api.received[0];
    expect(req?.body).toBeInstanceOf(FormData);
    expect((req?.body as FormData).get("file")).toBeTruthy();
    expect(req?.headers["content-type"]).toBeUndefined();
    expect(req?.headers["x-csrf-token"]).toBe("abc");
  });

  it("escapes ids in paths and returns the test-session envelope", async () => {
    const data = { token: "t", livekit_url: "ws://lk", room_name: "r", session_id: "s", participant_identity: "u", expires_in_seconds: 600 };
    const api = fakeApi({ "POST /api/agents/a%2Fb/test-session": { success: true, message: "Request successful", data } });
    const envelope = await createTestSession("a/b", { text_only: true });
    expect(envelope.data).toEqual(data);
    expect(api.received[0]?.body).toEqual({ text_only: true });
  });

  it("reads cookies by exact name", () => {
    expect(readCookie("vocable_csrf", "other=1; vocable_csrf=a=b; x_vocable_csrf=no")).toBe("a=b");
    expect(readCookie("missing", "a=1")).toBe("");
  });
});
