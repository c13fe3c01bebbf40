/**
 * Typed client for the Vocable control-plane API, as used by the dashboard.
 *
 * One function per endpoint. Every request sends the session cookie
 * (`credentials: "same-origin"`) and, on writes, the CSRF token read from the
 * `vocable_csrf` cookie in the `x-csrf-token` header (double submit). Failures are
 * thrown as {@link ApiError}, parsed from the API's error envelope.
 */

export const CSRF_COOKIE = "vocable_csrf";
export const CSRF_HEADER = "x-csrf-token";

// --- resources --------------------------------------------------------------------------

export interface User {
  id: string;
  email: string;
  org_id: string;
  org_name: string;
  role: string;
}

/** What an API key may do (docs/api.md, "API key scopes"); `admin` holds every scope. */
export type Scope =
  | "sessions:create"
  | "agents:read"
  | "agents:write"
  | "calls:read"
  | "calls:write"
  | "knowledge:read"
  | "knowledge:write"
  | "mcp:read"
  | "mcp:write"
  | "voices:read"
  | "voices:write"
  | "webhooks:read"
  | "webhooks:write"
  | "admin";

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
  scopes: Scope[];
  /** The agents the key may reach; empty: every agent. */
  agent_ids: string[];
}

export interface ApiKeyCreate {
  name: string;
  scopes: Scope[];
  agent_ids: string[];
}

/** The create response: the only time the full `sk_…` secret is returned. */
export interface ApiKeyCreated extends ApiKey {
  key: string;
}

/** What a session request may override (docs/api.md, "What a session may override"). */
export type OverridableField = "system_prompt" | "greeting" | "language" | "voice" | "variables";

/** How an agent converses (docs/api.md, "Conversation settings and built-in call tools"). */
export interface ConversationSettings {
  first_message: "agent" | "caller";
  interruptions: boolean;
  interruption_min_seconds: number;
  interruption_min_words: number;
  /** `null`: never remind or hang up on silence. */
  silence_timeout_seconds: number | null;
  silence_reminder: string;
  silence_reminders: number;
  end_call_phrases: string[];
  goodbye: string;
  temperature: number;
  max_reply_tokens: number;
}

/** Built-in tools every agent can switch on. */
export interface CallTools {
  end_call: { enabled: boolean; description: string };
  transfer_to_human: { enabled: boolean; description: string; message: string };
}

/** A change of call tools: only the fields given change. */
export interface CallToolsUpdate {
  end_call?: Partial<CallTools["end_call"]>;
  transfer_to_human?: Partial<CallTools["transfer_to_human"]>;
}

export interface Agent {
  id: string;
  name: string;
  system_prompt: string;
  greeting: string;
  language: string;
  reference_audio_url: string | null;
  reference_audio_sha256: string | null;
  /** The stored reference voice (an upload, or the fetched reference URL), if any. */
  voice_id?: string | null;
  stt_engine: string;
  llm_engine: string;
  tts_engine: string;
  /** How the reference voice is applied (a `voice` engine name); `null`: the deployment's default. */
  voice_model: string | null;
  max_call_seconds: number;
  active: boolean;
  /** IANA time zone of `{{system.date}}` and `{{system.time}}`. */
  timezone: string;
  /** Values of `{{variables}}` a session's metadata leaves out. */
  variable_defaults: Record<string, string>;
  /** Left out by an API older than these settings: the defaults apply. */
  conversation?: Partial<ConversationSettings>;
  call_tools?: { end_call?: Partial<CallTools["end_call"]>; transfer_to_human?: Partial<CallTools["transfer_to_human"]> };
  session_overrides?: OverridableField[];
  created_at: string;
  updated_at: string;
}

/** Fields an agent is created with; left-out fields take the API's defaults. */
export interface AgentCreate {
  name: string;
  system_prompt?: string;
  greeting?: string;
  language?: string;
  reference_audio_url?: string | null;
  stt_engine?: string;
  llm_engine?: string;
  tts_engine?: string;
  /** `null` (or left out): the deployment's default voice engine. */
  voice_model?: string | null;
  max_call_seconds?: number;
  active?: boolean;
  timezone?: string;
  variable_defaults?: Record<string, string>;
  /** On update, only the fields given change (the API merges them). */
  conversation?: Partial<ConversationSettings>;
  call_tools?: CallToolsUpdate;
  session_overrides?: OverridableField[];
}

/** A partial update: only the fields present change; `reference_audio_url: null` clears it. */
export type AgentUpdate = Partial<AgentCreate> & {
  /** Link an existing voice of the organisation (instead of `reference_audio_url`). */
  voice_id?: string | null;
};

/** Engine lists of `GET /api/engines`: speech-to-text, language model, text-to-speech, and voice (cloning). */
export type EngineKind = "stt" | "llm" | "tts" | "voice";

export interface Engine {
  name: string;
  description: string;
  offline: boolean;
}

export type Engines = Record<EngineKind, Engine[]>;

export interface CallRecord {
  id: string;
  agent_id: string;
  room_name: string;
  status: string;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  end_reason: string | null;
  usage: Record<string, unknown>;
}

export interface Turn {
  seq: number;
  role: string;
  text: string;
  metrics: Record<string, unknown>;
  created_at: string;
}

export interface CallDetail extends CallRecord {
  turns: Turn[];
}

/** Optional overrides for a dashboard "try it" call. */
export interface TestSessionRequest {
  language?: string;
  system_prompt?: string;
  greeting?: string;
  text_only?: boolean;
}

// a type alias, not an interface: it must fit @vocable/client's index-signed SessionCredentials
export type SessionCredentials = {
  token: string;
  livekit_url: string;
  room_name: string;
  session_id: string;
  participant_identity: string;
  expires_in_seconds: number;
};

export interface SessionEnvelope {
  success: true;
  message: string;
  data: SessionCredentials;
}

/** A reference voice of the organisation, with its provenance. */
export interface Voice {
  id: string;
  name: string;
  sha256: string;
  duration_seconds: number;
  sample_rate: number;
  size_bytes: number;
  source: "upload" | "url";
  /** Scheme, host and path only: the query string is never stored. */
  source_url: string | null;
  source_format: string;
  created_by_kind: "user" | "api_key";
  created_by_id: string;
  created_at: string;
}

export type DocumentStatus = "pending" | "processing" | "ready" | "failed";

/** A knowledge-base document and how far its ingestion got (`progress` in percent). */
export interface KnowledgeDocument {
  id: string;
  agent_id: string;
  name: string;
  kind: "pdf" | "docx" | "html" | "markdown" | "text";
  size_bytes: number;
  source_url: string | null;
  status: DocumentStatus;
  error: string | null;
  progress: number;
  chunk_count: number;
  created_at: string;
  updated_at: string;
  indexed_at: string | null;
}

export interface KnowledgePassage {
  text: string;
  source: string;
  page: number | null;
  score: number;
  document_id: string;
  chunk: number;
}

export interface KnowledgeSearchResult {
  results: KnowledgePassage[];
  took_ms: number;
}

export type McpTransport = "streamable_http" | "sse";

/** An MCP server of an agent. Header values never come back: `{"Authorization": "••••"}`. */
export interface McpServer {
  id: string;
  agent_id: string;
  name: string;
  url: string;
  transport: McpTransport;
  headers: Record<string, string>;
  timeout_seconds: number;
  active: boolean;
  /** `[]` exposes no tool, `null` every tool the server lists. */
  allowed_tools: string[] | null;
  created_at: string;
  updated_at: string;
}

export interface McpServerCreate {
  name: string;
  url: string;
  transport?: McpTransport;
  headers?: Record<string, string>;
  timeout_seconds?: number;
  active?: boolean;
  allowed_tools?: string[] | null;
}

/** A partial update; `headers` replaces the whole set when present. */
export type McpServerUpdate = Partial<McpServerCreate>;

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** An HTTP tool of an agent. Header values never come back: `{"Authorization": "••••"}`. */
export interface HttpTool {
  id: string;
  agent_id: string;
  name: string;
  description: string;
  method: HttpMethod;
  url: string;
  /** A JSON schema object: `{"type": "object", "properties": {...}, "required": [...]}`. */
  parameters: Record<string, unknown>;
  headers: Record<string, string>;
  /** The `{{variables}}` the URL, description and headers use. */
  variables: string[];
  timeout_seconds: number;
  enabled: boolean;
  created_at: string;
  updated_at: string;
}

export interface HttpToolCreate {
  name: string;
  description: string;
  method?: HttpMethod;
  url: string;
  parameters?: Record<string, unknown>;
  headers?: Record<string, string>;
  timeout_seconds?: number;
  enabled?: boolean;
}

/** A partial update; `headers` replaces the whole set when present. */
export type HttpToolUpdate = Partial<HttpToolCreate>;

export interface McpTool {
  name: string;
  description: string;
  /** Whether the allow-list names it. */
  allowed: boolean;
}

export interface McpTestResult {
  ok: true;
  tools: McpTool[];
  elapsed_ms: number;
}

// --- errors -----------------------------------------------------------------------------

export interface FieldError {
  field: string;
  message: string;
}

/** A failed request: HTTP status (0 when the API could not be reached), code and field errors. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly errors: FieldError[];

  constructor(status: number, code: string, message: string, errors: FieldError[] = []) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.errors = errors;
  }

  /** The first message for `field`, if the API named it. */
  fieldMessage(field: string): string | undefined {
    return this.errors.find((e) => e.field === field)?.message;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseFieldErrors(value: unknown): FieldError[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((item): FieldError[] => {
    if (!isRecord(item)) return [];
    const field = typeof item["field"] === "string" ? item["field"] : "";
    const message = typeof item["message"] === "string" ? item["message"] : "invalid value";
    return field ? [{ field, message }] : [];
  });
}

/** Builds an {@link ApiError} from a non-2xx response body (the envelope, or anything else). */
export function errorFromBody(status: number, body: unknown): ApiError {
  if (isRecord(body)) {
    const message =
      typeof body["message"] === "string" && body["message"]
        ? body["message"]
        : `Request failed (HTTP ${status})`;
    const code = typeof body["code"] === "string" ? body["code"] : "http_error";
    return new ApiError(status, code, message, parseFieldErrors(body["errors"]));
  }
  return new ApiError(status, "http_error", `Request failed (HTTP ${status})`);
}

// --- transport --------------------------------------------------------------------------

/** Reads one cookie by name from `document.cookie` (empty string when absent). */
export function readCookie(name: string, cookies: string = document.cookie): string {
  for (const part of cookies.split(";")) {
    const [rawKey, ...rest] = part.split("=");
    if (rawKey?.trim() === name) return decodeURIComponent(rest.join("=").trim());
  }
  return "";
}

type UnauthorizedHandler = () => void;
let onUnauthorized: UnauthorizedHandler | null = null;

/** Called whenever a request (other than sign-in itself) answers 401: the session is gone. */
export function setUnauthorizedHandler(handler: UnauthorizedHandler | null): void {
  onUnauthorized = handler;
}

interface RequestOptions {
  json?: unknown;
  form?: FormData;
  /** Do not call the unauthorized handler on 401 (sign-in and the "who am I" probe). */
  quiet401?: boolean;
}

async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  let body: BodyInit | undefined;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  } else if (options.form) {
    body = options.form; // the browser sets the multipart boundary
  }
  if (method !== "GET" && method !== "HEAD") {
    const csrf = readCookie(CSRF_COOKIE);
    if (csrf) headers[CSRF_HEADER] = csrf;
  }

  let response: Response;
  try {
    response = await fetch(path, { method, headers, body: body ?? null, credentials: "same-origin" });
  } catch {
    throw new ApiError(0, "network_error", "Could not reach the Vocable API. Check your connection.");
  }

  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let parsed: unknown = undefined;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
  }
  if (!response.ok) {
    const error = errorFromBody(response.status, parsed);
    if (response.status === 401 && !options.quiet401) onUnauthorized?.();
    throw error;
  }
  return parsed as T;
}

const seg = encodeURIComponent;

// --- endpoints --------------------------------------------------------------------------

export function login(
  email: string,
  password: string,
): Promise<{ user: User; csrf_token: string; failed_attempts?: number }> {
  return request("POST", "/api/auth/login", { json: { email, password }, quiet401: true });
}

export function logout(): Promise<void> {
  return request("POST", "/api/auth/logout", { quiet401: true });
}

export function getMe(): Promise<User> {
  return request("GET", "/api/auth/me", { quiet401: true });
}

export function listKeys(): Promise<ApiKey[]> {
  return request("GET", "/api/keys");
}

export function createKey(body: ApiKeyCreate): Promise<ApiKeyCreated> {
  return request("POST", "/api/keys", { json: body });
}

/** What a key may do and reach, changed in place (its secret stays the same). */
export interface ApiKeyUpdate {
  scopes?: Scope[];
  agent_ids?: string[];
}

export function updateKey(id: string, body: ApiKeyUpdate): Promise<ApiKey> {
  return request("PATCH", `/api/keys/${seg(id)}`, { json: body });
}

export function revokeKey(id: string): Promise<ApiKey> {
  return request("DELETE", `/api/keys/${seg(id)}`);
}

export function listAgents(): Promise<Agent[]> {
  return request("GET", "/api/agents");
}

export function getAgent(id: string): Promise<Agent> {
  return request("GET", `/api/agents/${seg(id)}`);
}

export function createAgent(data: AgentCreate): Promise<Agent> {
  return request("POST", "/api/agents", { json: data });
}

export function updateAgent(id: string, changes: AgentUpdate): Promise<Agent> {
  return request("PATCH", `/api/agents/${seg(id)}`, { json: changes });
}

export function deleteAgent(id: string): Promise<void> {
  return request("DELETE", `/api/agents/${seg(id)}`);
}

/** Uploads a reference clip (multipart field `file`; WAV, MP3, OGG, FLAC or WebM, ≤ 10 MB). */
export function uploadVoice(id: string, file: Blob, filename = "voice"): Promise<Agent> {
  const form = new FormData();
  form.append("file", file, filename);
  return request("PUT", `/api/agents/${seg(id)}/voice`, { form });
}

/** URL of the stored reference clip; `version` (its hash) defeats the browser cache. */
export function voiceUrl(id: string, version?: string | null): string {
  const base = `/api/agents/${seg(id)}/voice`;
  return version ? `${base}?v=${seg(version)}` : base;
}

export function listAgentSessions(id: string, limit = 50): Promise<CallRecord[]> {
  return request("GET", `/api/agents/${seg(id)}/sessions?limit=${limit}`);
}

export function listSessions(limit = 50): Promise<CallRecord[]> {
  return request("GET", `/api/sessions?limit=${limit}`);
}

export function getSession(id: string): Promise<CallDetail> {
  return request("GET", `/api/sessions/${seg(id)}`);
}

export function listEngines(): Promise<Engines> {
  return request("GET", "/api/engines");
}

export function createTestSession(id: string, overrides: TestSessionRequest = {}): Promise<SessionEnvelope> {
  return request("POST", `/api/agents/${seg(id)}/test-session`, { json: overrides });
}

// --- voices -----------------------------------------------------------------------------

export function listVoices(): Promise<Voice[]> {
  return request("GET", "/api/voices");
}

/** URL of a voice's stored clip (16-bit mono WAV). */
export function voiceAudioUrl(voiceId: string): string {
  return `/api/voices/${seg(voiceId)}/audio`;
}

// --- knowledge base ---------------------------------------------------------------------

const knowledgeBase = (agentId: string) => `/api/agents/${seg(agentId)}/knowledge`;

export function listDocuments(agentId: string): Promise<KnowledgeDocument[]> {
  return request("GET", knowledgeBase(agentId));
}

/** Uploads a document (multipart field `file`: PDF, DOCX, HTML, Markdown or text); 202. */
export function uploadDocument(agentId: string, file: Blob, filename = "document"): Promise<KnowledgeDocument> {
  const form = new FormData();
  form.append("file", file, filename);
  return request("POST", knowledgeBase(agentId), { form });
}

/** Adds a public page or document by URL (fetched under the outbound rules); 202. */
export function addDocumentUrl(agentId: string, url: string): Promise<KnowledgeDocument> {
  return request("POST", `${knowledgeBase(agentId)}/url`, { json: { url } });
}

export function deleteDocument(agentId: string, documentId: string): Promise<void> {
  return request("DELETE", `${knowledgeBase(agentId)}/${seg(documentId)}`);
}

export function reindexDocument(agentId: string, documentId: string): Promise<KnowledgeDocument> {
  return request("POST", `${knowledgeBase(agentId)}/${seg(documentId)}/reindex`);
}

export function searchKnowledge(agentId: string, query: string, topK = 5): Promise<KnowledgeSearchResult> {
  return request("POST", `${knowledgeBase(agentId)}/search`, { json: { query, top_k: topK } });
}

// --- MCP servers ------------------------------------------------------------------------

const toolBase = (agentId: string) => `/api/agents/${seg(agentId)}/tools`;

export function listHttpTools(agentId: string): Promise<HttpTool[]> {
  return request("GET", toolBase(agentId));
}

export function createHttpTool(agentId: string, data: HttpToolCreate): Promise<HttpTool> {
  return request("POST", toolBase(agentId), { json: data });
}

export function updateHttpTool(agentId: string, toolId: string, changes: HttpToolUpdate): Promise<HttpTool> {
  return request("PATCH", `${toolBase(agentId)}/${seg(toolId)}`, { json: changes });
}

export function deleteHttpTool(agentId: string, toolId: string): Promise<void> {
  return request("DELETE", `${toolBase(agentId)}/${seg(toolId)}`);
}

const mcpBase = (agentId: string) => `/api/agents/${seg(agentId)}/mcp-servers`;

export function listMcpServers(agentId: string): Promise<McpServer[]> {
  return request("GET", mcpBase(agentId));
}

export function createMcpServer(agentId: string, data: McpServerCreate): Promise<McpServer> {
  return request("POST", mcpBase(agentId), { json: data });
}

export function updateMcpServer(agentId: string, serverId: string, changes: McpServerUpdate): Promise<McpServer> {
  return request("PATCH", `${mcpBase(agentId)}/${seg(serverId)}`, { json: changes });
}

export function deleteMcpServer(agentId: string, serverId: string): Promise<void> {
  return request("DELETE", `${mcpBase(agentId)}/${seg(serverId)}`);
}

/** Connects with the stored URL and headers and lists the server's tools (422/502 with a reason). */
export function testMcpServer(agentId: string, serverId: string): Promise<McpTestResult> {
  return request("POST", `${mcpBase(agentId)}/${seg(serverId)}/test`);
}

// --- members and passwords ------------------------------------------------------------------

export type Role = "owner" | "admin" | "developer" | "viewer";
export const ROLES: readonly Role[] = ["owner", "admin", "developer", "viewer"];

/** Whether `role` has every right of `minimum` (owner > admin > developer > viewer). */
export function atLeast(role: string, minimum: Role): boolean {
  const rank = (r: string) => ROLES.length - ROLES.indexOf(r as Role);
  return ROLES.includes(role as Role) && rank(role) >= rank(minimum);
}

export interface Member {
  id: string;
  email: string;
  role: Role;
  created_at: string;
  last_login_at: string | null;
  /** Set while the account is locked after failed sign-ins. */
  locked_until: string | null;
}

export interface Invite {
  id: string;
  email: string;
  role: Role;
  created_at: string;
  expires_at: string;
}

/** The create response: the only time the invitation link is returned. */
export interface InviteCreated extends Invite {
  url: string;
}

export function listMembers(): Promise<{ members: Member[]; invites: Invite[] }> {
  return request("GET", "/api/members");
}

export function createInvite(email: string, role: Role): Promise<InviteCreated> {
  return request("POST", "/api/members/invites", { json: { email, role } });
}

export function revokeInvite(id: string): Promise<void> {
  return request("DELETE", `/api/members/invites/${seg(id)}`);
}

export function changeRole(id: string, role: Role): Promise<Member> {
  return request("PATCH", `/api/members/${seg(id)}`, { json: { role } });
}

export function removeMember(id: string): Promise<void> {
  return request("DELETE", `/api/members/${seg(id)}`);
}

export function unlockMember(id: string): Promise<Member> {
  return request("POST", `/api/members/${seg(id)}/unlock`);
}

export function lookupInvite(token: string): Promise<{ email: string; role: Role; org_name: string }> {
  return request("POST", "/api/invites/lookup", { json: { token }, quiet401: true });
}

export function acceptInvite(token: string, password: string): Promise<User> {
  return request("POST", "/api/invites/accept", { json: { token, password }, quiet401: true });
}

export function changePassword(currentPassword: string, newPassword: string): Promise<void> {
  return request("POST", "/api/auth/password", {
    json: { current_password: currentPassword, new_password: newPassword },
  });
}

export function authOptions(): Promise<{ password_reset_by_email: boolean }> {
  return request("GET", "/api/auth/options", { quiet401: true });
}

export function requestPasswordReset(email: string): Promise<{ message: string }> {
  return request("POST", "/api/auth/password-reset", { json: { email }, quiet401: true });
}

export function confirmPasswordReset(token: string, password: string): Promise<void> {
  return request("POST", "/api/auth/password-reset/confirm", { json: { token, password }, quiet401: true });
}
