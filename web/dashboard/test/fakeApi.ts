import { vi } from "vitest";

/** One request the fake API received. */
export interface Received {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
  credentials: RequestCredentials | undefined;
}

export interface Reply {
  status?: number;
  body?: unknown;
}

/** A fixed answer, or a function of the request that returns one. */
type Handler = ((request: Received) => unknown) | Reply | object;

/**
 * A fake `fetch` answering from a table of "METHOD /path" handlers (query strings
 * included in the path when the handler names one). A handler returns a {@link Reply},
 * or a plain value for a 200 JSON answer. Anything unmatched answers 404 in the API's
 * envelope. Installs itself as the global `fetch`.
 */
export function fakeApi(routes: Record<string, Handler>) {
  const received: Received[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = new URL(String(input), "http://dashboard.test");
    const method = (init.method ?? "GET").toUpperCase();
    const headers = Object.fromEntries(
      Object.entries((init.headers ?? {}) as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]),
    );
    let body: unknown = init.body ?? undefined;
    if (typeof body === "string") body = JSON.parse(body);
    const request: Received = { method, path: url.pathname + url.search, headers, body, credentials: init.credentials };
    received.push(request);
    const handler = routes[`${method} ${url.pathname}${url.search}`] ?? routes[`${method} ${url.pathname}`];
    const raw =
      handler === undefined
        ? { status: 404, body: envelopeError("not_found", "Not Found") }
        : typeof handler === "function"
          ? (handler as (request: Received) => unknown)(request)
          : handler;
    const reply: Reply = isReply(raw) ? raw : { status: 200, body: raw };
    const status = reply.status ?? 200;
    if (status === 204) return new Response(null, { status });
    return new Response(JSON.stringify(reply.body ?? null), { status, headers: { "Content-Type": "application/json" } });
  });
  vi.stubGlobal("fetch", fetchMock);
  return { received, fetchMock, find: (method: string, path: string) => received.filter((r) => r.method === method && r.path.startsWith(path)) };
}

function isReply(value: unknown): value is Reply {
  return typeof value === "object" && value !== null && ("status" in value || "body" in value) && Object.keys(value).every((k) => k === "status" || k === "body");
}

export function envelopeError(code: string, message: string, errors: { field: string; message: string }[] = []) {
  return { success: false, message, code, errors };
}

export const USER = { id: "usr_1", email: "ada@example.com", org_id: "org_1", org_name: "Acme", role: "admin" };

export const ENGINES = {
  stt: [
    { name: "auto", description: "Whisper tiny.en for English, Whisper base otherwise", offline: true },
    { name: "whisper-tiny-en", description: "English only", offline: true },
  ],
  llm: [{ name: "qwen2.5-1.5b", description: "Qwen on llama.cpp", offline: true }],
  tts: [{ name: "auto", description: "Piper or espeak-ng", offline: true }],
  voice: [
    { name: "embedded", description: "Voice matching on the agent's embedded TTS", offline: true },
    { name: "clone-server", description: "A self-hosted zero-shot cloning server", offline: false },
    { name: "elevenlabs", description: "ElevenLabs instant voice cloning", offline: false },
  ],
};

export function agentFixture(overrides: Record<string, unknown> = {}) {
  return {
    id: "agt_123",
    name: "Front desk",
    system_prompt: "Be brief.",
    greeting: "Hello!",
    language: "en",
    reference_audio_url: null,
    reference_audio_sha256: null,
    voice_id: null,
    stt_engine: "auto",
    llm_engine: "qwen2.5-1.5b",
    tts_engine: "auto",
    voice_model: null,
    max_call_seconds: 900,
    active: true,
    created_at: "2025-01-01T10:00:00Z",
    updated_at: "2025-01-01T10:00:00Z",
    ...overrides,
  };
}
