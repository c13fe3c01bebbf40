import type { Scope } from "./api";

export interface ScopeChoice {
  scope: Scope;
  label: string;
}

/** The scopes the create-key form offers, grouped by what they reach, in the API's order. */
export const SCOPE_GROUPS: { title: string; choices: ScopeChoice[] }[] = [
  { title: "Sessions", choices: [{ scope: "sessions:create", label: "Create sessions" }] },
  {
    title: "Agents",
    choices: [
      { scope: "agents:read", label: "Read agents" },
      { scope: "agents:write", label: "Create and change agents" },
    ],
  },
  {
    title: "Calls",
    choices: [
      { scope: "calls:read", label: "Read calls and transcripts" },
      { scope: "calls:write", label: "End calls" },
    ],
  },
  {
    title: "Knowledge",
    choices: [
      { scope: "knowledge:read", label: "Read documents" },
      { scope: "knowledge:write", label: "Add and delete documents" },
    ],
  },
  {
    title: "MCP servers",
    choices: [
      { scope: "mcp:read", label: "Read MCP servers" },
      { scope: "mcp:write", label: "Change MCP servers" },
    ],
  },
  {
    title: "Voices",
    choices: [
      { scope: "voices:read", label: "Read voices" },
      { scope: "voices:write", label: "Delete voices" },
    ],
  },
  {
    title: "Webhooks",
    choices: [
      { scope: "webhooks:read", label: "Read webhooks and deliveries" },
      { scope: "webhooks:write", label: "Redeliver" },
    ],
  },
];

/** The create form's default: a backend that only starts calls. */
export const DEFAULT_SCOPES: Scope[] = ["sessions:create"];

/** How the keys table names a key's scopes. */
export function describeScopes(scopes: Scope[]): string {
  if (scopes.includes("admin")) return "Full access";
  if (scopes.length === 1 && scopes[0] === "sessions:create") return "Create sessions only";
  return scopes.join(", ");
}
