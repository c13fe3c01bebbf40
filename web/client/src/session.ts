import { VocableError } from "./errors.js";

/** Short-lived credentials for one call, as returned by the customer's backend. */
export interface SessionCredentials {
  /** LiveKit access token for this call's room. */
  token: string;
  /** LiveKit websocket URL, e.g. `wss://voice.example.com`. */
  livekit_url: string;
  /** Room name, when the backend passes it on. */
  room_name?: string;
  /** Any extra fields the backend returned (`session_id`, `expires_in_seconds`, ...). */
  [extra: string]: unknown;
}

/** The Vocable API's response envelope around {@link SessionCredentials}. */
export interface SessionEnvelope {
  success?: boolean;
  message?: string;
  data: SessionCredentials;
}

/**
 * Supplies the credentials for one call in the app's own way (e.g. a dashboard that POSTs
 * with its CSRF header). May return the credentials or the whole envelope; the result is
 * validated like a `sessionUrl` response.
 */
export type SessionProvider = () => Promise<SessionCredentials | SessionEnvelope>;

/** The `fetch` subset the SDK uses; pass your own for tests or custom transports. */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Accepts either the Vocable envelope `{success, message, data: {token, livekit_url}}`
 * or a bare `{token, livekit_url}` and returns the credentials.
 *
 * @throws {@link VocableError} `session_invalid` when `token` or `livekit_url` is missing.
 */
export function readSession(body: unknown): SessionCredentials {
  const candidate = isRecord(body) && isRecord(body["data"]) ? body["data"] : body;
  if (
    isRecord(candidate) &&
    typeof candidate["token"] === "string" &&
    candidate["token"] &&
    typeof candidate["livekit_url"] === "string" &&
    candidate["livekit_url"]
  ) {
    return candidate as SessionCredentials;
  }
  throw new VocableError("session_invalid", "Session response is missing token or livekit_url");
}

function errorMessage(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    if (isRecord(parsed) && typeof parsed["message"] === "string" && parsed["message"]) {
      return parsed["message"];
    }
  } catch {
    // Not JSON: fall back to the raw text below.
  }
  return body.trim();
}

/**
 * POSTs `request` as JSON to the customer's own session route and reads the credentials.
 *
 * @param url - A route on the customer's backend (never the Vocable API: the API key stays server-side).
 * @param request - JSON body, e.g. `{agent: "..."}` if the backend forwards it.
 * @param fetchImpl - Defaults to the global `fetch`.
 * @throws {@link VocableError} `session_request_failed`, `session_http_error` (with `status`
 *   and the body's `message`) or `session_invalid`.
 */
export async function fetchSession(
  url: string,
  request: unknown = {},
  fetchImpl: FetchLike = (input, init) => fetch(input, init),
): Promise<SessionCredentials> {
  let response: Response;
  try {
    response = await fetchImpl(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(request),
    });
  } catch (error) {
    throw new VocableError("session_request_failed", `Could not reach the session URL ${url}`, {
      cause: error,
    });
  }
  if (!response.ok) {
    const detail = errorMessage(await response.text().catch(() => ""));
    throw new VocableError(
      "session_http_error",
      detail || `Session request failed with HTTP ${response.status}`,
      { status: response.status },
    );
  }
  let body: unknown;
  try {
    body = await response.json();
  } catch (error) {
    throw new VocableError("session_invalid", "Session response is not JSON", { cause: error });
  }
  return readSession(body);
}

/**
 * Calls the app's {@link SessionProvider} and validates what it returns.
 *
 * @throws {@link VocableError} the provider's own `VocableError` unchanged,
 *   `session_request_failed` for anything else it throws, or `session_invalid`.
 */
export async function requestSession(getSession: SessionProvider): Promise<SessionCredentials> {
  let body: unknown;
  try {
    body = await getSession();
  } catch (error) {
    if (error instanceof VocableError) throw error;
    const detail = error instanceof Error && error.message ? `: ${error.message}` : "";
    throw new VocableError("session_request_failed", `Could not get a session${detail}`, { cause: error });
  }
  return readSession(body);
}
