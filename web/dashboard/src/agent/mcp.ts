import { ApiError, type McpServer, type McpServerCreate, type McpServerUpdate, type McpTransport } from "../api";

/** What a stored header value reads as: the API never returns values. */
export const HIDDEN_VALUE = "••••";

export const TRANSPORTS: { value: McpTransport; label: string }[] = [
  { value: "streamable_http", label: "Streamable HTTP" },
  { value: "sse", label: "SSE (legacy)" },
];

export const TIMEOUT_MIN = 2;
export const TIMEOUT_MAX = 30;
export const TIMEOUT_DEFAULT = 12;

/** The form fields the API may name in a 422 (after {@link normaliseFields}). */
export const MCP_FIELDS = ["name", "url", "transport", "timeout_seconds", "headers", "allowed_tools", "active"] as const;

export interface HeaderRow {
  name: string;
  value: string;
}

/** The server form's values, as the inputs hold them. */
export interface McpValues {
  name: string;
  url: string;
  transport: McpTransport;
  timeout: string;
  active: boolean;
  /** Expose every tool the server lists (`allowed_tools: null`). */
  allowAll: boolean;
  /** The allow-list, one tool name a line. */
  allowedText: string;
  /** New header set; only sent when `replaceHeaders` (values are write-only). */
  headers: HeaderRow[];
  replaceHeaders: boolean;
}

export function valuesFromServer(server: McpServer | null): McpValues {
  if (!server) {
    return {
      name: "",
      url: "",
      transport: "streamable_http",
      timeout: String(TIMEOUT_DEFAULT),
      active: true,
      allowAll: false,
      allowedText: "",
      headers: [{ name: "", value: "" }],
      replaceHeaders: true,
    };
  }
  return {
    name: server.name,
    url: server.url,
    transport: server.transport === "sse" ? "sse" : "streamable_http",
    timeout: String(server.timeout_seconds),
    active: server.active,
    allowAll: server.allowed_tools === null,
    allowedText: (server.allowed_tools ?? []).join("\n"),
    headers: [],
    replaceHeaders: false,
  };
}

/** Tool names from the textarea: one a line (commas also split), trimmed, without repeats. */
export function parseToolNames(text: string): string[] {
  const names = text
    .split(/[\n,]/)
    .map((n) => n.trim())
    .filter(Boolean);
  return [...new Set(names)];
}

/** Adds or removes one tool name in the one-a-line text. */
export function toggleToolName(text: string, name: string, on: boolean): string {
  const names = parseToolNames(text).filter((n) => n !== name);
  if (on) names.push(name);
  return names.join("\n");
}

const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/;

/** Client-side checks, by field; the API checks again. */
export function checkMcpValues(values: McpValues): Partial<Record<(typeof MCP_FIELDS)[number], string>> {
  const errors: Partial<Record<(typeof MCP_FIELDS)[number], string>> = {};
  if (!values.name.trim()) errors.name = "Give the server a name";
  if (!/^https?:\/\/\S+$/i.test(values.url.trim())) errors.url = "Enter the server's http(s) URL";
  const timeout = Number(values.timeout);
  if (!Number.isInteger(timeout) || timeout < TIMEOUT_MIN || timeout > TIMEOUT_MAX) {
    errors.timeout_seconds = `A whole number of seconds from ${TIMEOUT_MIN} to ${TIMEOUT_MAX}`;
  }
  if (!values.allowAll) {
    const bad = parseToolNames(values.allowedText).find((n) => !TOOL_NAME.test(n));
    if (bad) errors.allowed_tools = `“${bad}” is not a tool name (letters, digits, _ - . only)`;
  }
  if (values.replaceHeaders) {
    for (const row of values.headers) {
      if (!row.name.trim() && !row.value) continue;
      if (!HEADER_NAME.test(row.name.trim())) {
        errors.headers = "Header names are letters, digits and - (e.g. Authorization)";
        break;
      }
      if (!row.value) {
        errors.headers = `Give a value for ${row.name.trim()}`;
        break;
      }
      if (/[\r\n]/.test(row.value)) {
        errors.headers = "Header values are a single line";
        break;
      }
    }
  }
  return errors;
}

export function headersFromRows(rows: HeaderRow[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const row of rows) if (row.name.trim()) out[row.name.trim()] = row.value;
  return out;
}

/** Every field of a create request, as the form sends it. */
export type McpServerPayload = Required<McpServerCreate>;

export function toCreate(values: McpValues): McpServerPayload {
  return {
    name: values.name.trim(),
    url: values.url.trim(),
    transport: values.transport,
    timeout_seconds: Number(values.timeout),
    active: values.active,
    allowed_tools: values.allowAll ? null : parseToolNames(values.allowedText),
    headers: headersFromRows(values.headers),
  };
}

/** The changed fields only; `headers` only when the user chose to replace them. */
export function toUpdate(values: McpValues, server: McpServer): McpServerUpdate {
  const next = toCreate(values);
  const changes: McpServerUpdate = {};
  if (next.name !== server.name) changes.name = next.name;
  if (next.url !== server.url) changes.url = next.url;
  if (next.transport !== server.transport) changes.transport = next.transport;
  if (next.timeout_seconds !== server.timeout_seconds) changes.timeout_seconds = next.timeout_seconds;
  if (next.active !== server.active) changes.active = next.active;
  const before = server.allowed_tools;
  const after = next.allowed_tools;
  if (after === null ? before !== null : before === null || after.join("\n") !== before.join("\n")) changes.allowed_tools = after;
  if (values.replaceHeaders) changes.headers = next.headers;
  return changes;
}

/** Field errors under nested names (`headers.Authorization`, `allowed_tools.0`) go to their field. */
export function normaliseFields(error: unknown): unknown {
  if (!(error instanceof ApiError)) return error;
  const errors = error.errors.map((e) => ({ ...e, field: e.field.split(".")[0] ?? e.field }));
  return new ApiError(error.status, error.code, error.message, errors);
}

export function transportLabel(transport: string): string {
  return TRANSPORTS.find((t) => t.value === transport)?.label ?? transport;
}
