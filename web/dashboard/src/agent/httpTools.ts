import type { HttpMethod, HttpTool, HttpToolCreate, HttpToolUpdate } from "../api";
import { headersFromRows, type HeaderRow } from "./mcp";

export const METHODS: HttpMethod[] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
export const TOOL_TIMEOUT_MIN = 1;
export const TOOL_TIMEOUT_MAX = 30;
export const TOOL_TIMEOUT_DEFAULT = 10;
export const DESCRIPTION_MAX = 1000;
export const RESERVED_NAMES = ["end_call", "transfer_to_human"];
export const EMPTY_PARAMETERS = { type: "object", properties: {}, required: [] };

/** The form fields the API may name in a 422 (nested names cut to their first part). */
export const TOOL_FIELDS = ["name", "description", "method", "url", "parameters", "headers", "timeout_seconds", "enabled"] as const;
export type ToolField = (typeof TOOL_FIELDS)[number];

/** The tool form's values, as the inputs hold them. */
export interface ToolValues {
  name: string;
  description: string;
  method: HttpMethod;
  url: string;
  /** The parameters' JSON schema, as typed. */
  parametersText: string;
  timeout: string;
  enabled: boolean;
  /** New header set; only sent when `replaceHeaders` (values are write-only). */
  headers: HeaderRow[];
  replaceHeaders: boolean;
}

export function valuesFromTool(tool: HttpTool | null): ToolValues {
  if (!tool) {
    return {
      name: "",
      description: "",
      method: "GET",
      url: "",
      parametersText: JSON.stringify(EMPTY_PARAMETERS, null, 2),
      timeout: String(TOOL_TIMEOUT_DEFAULT),
      enabled: true,
      headers: [{ name: "", value: "" }],
      replaceHeaders: true,
    };
  }
  return {
    name: tool.name,
    description: tool.description,
    method: tool.method,
    url: tool.url,
    parametersText: JSON.stringify(tool.parameters, null, 2),
    timeout: String(tool.timeout_seconds),
    enabled: tool.enabled,
    headers: [],
    replaceHeaders: false,
  };
}

const TOOL_NAME = /^[a-z][a-z0-9_]{0,63}$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/;

function parseParameters(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Client-side checks, by field; the API checks everything again (schema details too). */
export function checkToolValues(values: ToolValues): Partial<Record<ToolField, string>> {
  const errors: Partial<Record<ToolField, string>> = {};
  const name = values.name.trim();
  if (!TOOL_NAME.test(name)) errors.name = "A function name: lower-case letters, digits and _, starting with a letter";
  else if (RESERVED_NAMES.includes(name)) errors.name = `${name} is the name of a built-in tool`;
  if (!values.description.trim()) errors.description = "Say what the tool does: the language model reads this";
  else if (values.description.trim().length > DESCRIPTION_MAX) errors.description = `At most ${DESCRIPTION_MAX} characters`;
  if (!/^https?:\/\/\S+$/i.test(values.url.trim())) errors.url = "Enter the endpoint's http(s) URL";
  const parameters = parseParameters(values.parametersText);
  if (!parameters) errors.parameters = "Enter a JSON object, e.g. {\"type\": \"object\", \"properties\": {}}";
  else if (parameters["type"] !== "object") errors.parameters = 'The schema\'s "type" must be "object"';
  const timeout = Number(values.timeout);
  if (!Number.isInteger(timeout) || timeout < TOOL_TIMEOUT_MIN || timeout > TOOL_TIMEOUT_MAX) {
    errors.timeout_seconds = `A whole number of seconds from ${TOOL_TIMEOUT_MIN} to ${TOOL_TIMEOUT_MAX}`;
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

export type HttpToolPayload = Required<HttpToolCreate>;

/** Every field of a create request, as the form sends it (call after {@link checkToolValues}). */
export function toToolCreate(values: ToolValues): HttpToolPayload {
  return {
    name: values.name.trim(),
    description: values.description.trim(),
    method: values.method,
    url: values.url.trim(),
    parameters: parseParameters(values.parametersText) ?? EMPTY_PARAMETERS,
    headers: headersFromRows(values.headers),
    timeout_seconds: Number(values.timeout),
    enabled: values.enabled,
  };
}

/** The changed fields only; `headers` only when the user chose to replace them. */
export function toToolUpdate(values: ToolValues, tool: HttpTool): HttpToolUpdate {
  const next = toToolCreate(values);
  const changes: HttpToolUpdate = {};
  if (next.name !== tool.name) changes.name = next.name;
  if (next.description !== tool.description) changes.description = next.description;
  if (next.method !== tool.method) changes.method = next.method;
  if (next.url !== tool.url) changes.url = next.url;
  if (JSON.stringify(next.parameters) !== JSON.stringify(tool.parameters)) changes.parameters = next.parameters;
  if (next.timeout_seconds !== tool.timeout_seconds) changes.timeout_seconds = next.timeout_seconds;
  if (next.enabled !== tool.enabled) changes.enabled = next.enabled;
  if (values.replaceHeaders) changes.headers = next.headers;
  return changes;
}

/** The parameter names of a stored schema, required ones marked, for the list. */
export function parameterSummary(parameters: Record<string, unknown>): string {
  const properties = (parameters["properties"] ?? {}) as Record<string, unknown>;
  const required = new Set((parameters["required"] ?? []) as string[]);
  const names = Object.keys(properties).map((n) => (required.has(n) ? `${n}*` : n));
  return names.length ? names.join(", ") : "none";
}
