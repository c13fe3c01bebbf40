import type { Agent, AgentCreate, AgentUpdate, Engines } from "../api";

/** The agent form's editable values, as the inputs hold them (numbers as text). */
export interface AgentValues {
  name: string;
  system_prompt: string;
  greeting: string;
  language: string;
  stt_engine: string;
  llm_engine: string;
  tts_engine: string;
  /** A voice engine name, or `""` for the deployment's default (`null` in the API). */
  voice_model: string;
  max_call_seconds: string;
  active: boolean;
  timezone: string;
  /** `name=value`, one per line. */
  variable_defaults: string;
}

export type AgentField = keyof AgentValues;

export const AGENT_FIELDS: readonly AgentField[] = [
  "name",
  "system_prompt",
  "greeting",
  "language",
  "stt_engine",
  "llm_engine",
  "tts_engine",
  "voice_model",
  "max_call_seconds",
  "active",
  "timezone",
  "variable_defaults",
];

/** Common BCP-47 tags for the language picker; any other valid tag can be typed. */
export const COMMON_LANGUAGES: readonly { tag: string; name: string }[] = [
  { tag: "en", name: "English" },
  { tag: "en-US", name: "English (United States)" },
  { tag: "en-GB", name: "English (United Kingdom)" },
  { tag: "es", name: "Spanish" },
  { tag: "es-MX", name: "Spanish (Mexico)" },
  { tag: "fr", name: "French" },
  { tag: "de", name: "German" },
  { tag: "it", name: "Italian" },
  { tag: "pt", name: "Portuguese" },
  { tag: "pt-BR", name: "Portuguese (Brazil)" },
  { tag: "nl", name: "Dutch" },
  { tag: "sv", name: "Swedish" },
  { tag: "pl", name: "Polish" },
  { tag: "tr", name: "Turkish" },
  { tag: "ru", name: "Russian" },
  { tag: "uk", name: "Ukrainian" },
  { tag: "ar", name: "Arabic" },
  { tag: "hi", name: "Hindi" },
  { tag: "ja", name: "Japanese" },
  { tag: "ko", name: "Korean" },
  { tag: "zh", name: "Chinese" },
];

/** Defaults for a new agent, matching the API's own defaults. */
export function newAgentValues(engines: Engines | null): AgentValues {
  const first = (kind: keyof Engines, fallback: string) => engines?.[kind][0]?.name ?? fallback;
  return {
    name: "",
    system_prompt: "You are a helpful voice assistant. Keep answers short.",
    greeting: "Hello! How can I help you today?",
    language: "en",
    stt_engine: first("stt", "auto"),
    llm_engine: first("llm", "qwen2.5-1.5b"),
    tts_engine: first("tts", "auto"),
    voice_model: "",
    max_call_seconds: "900",
    active: true,
    timezone: "UTC",
    variable_defaults: "",
  };
}

export function valuesFromAgent(agent: Agent): AgentValues {
  return {
    name: agent.name,
    system_prompt: agent.system_prompt,
    greeting: agent.greeting,
    language: agent.language,
    stt_engine: agent.stt_engine,
    llm_engine: agent.llm_engine,
    tts_engine: agent.tts_engine,
    voice_model: agent.voice_model ?? "",
    max_call_seconds: String(agent.max_call_seconds),
    active: agent.active,
    timezone: agent.timezone ?? "UTC",
    variable_defaults: Object.entries(agent.variable_defaults ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join("\n"),
  };
}

/** Client-side checks before anything is sent; the API validates everything again. */
export function checkValues(values: AgentValues): Partial<Record<AgentField, string>> {
  const problems: Partial<Record<AgentField, string>> = {};
  if (!values.name.trim()) problems.name = "Give the agent a name";
  if (!values.language.trim()) problems.language = "Choose a language, e.g. en or es-MX";
  if (parseDefaults(values.variable_defaults) === null) {
    problems.variable_defaults = "One name=value per line; names are letters, digits and _";
  }
  const seconds = Number(values.max_call_seconds);
  if (!values.max_call_seconds.trim() || !Number.isInteger(seconds)) {
    problems.max_call_seconds = "Enter a whole number of seconds";
  }
  return problems;
}

/** `name=value` lines as an object, or `null` when a line is not one. */
export function parseDefaults(text: string): Record<string, string> | null {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const at = line.indexOf("=");
    const name = at > 0 ? line.slice(0, at).trim() : "";
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name)) return null;
    out[name] = line.slice(at + 1).trim();
  }
  return out;
}

function toPayload(values: AgentValues): Required<Omit<AgentCreate, "reference_audio_url">> {
  return {
    name: values.name.trim(),
    system_prompt: values.system_prompt,
    greeting: values.greeting,
    language: values.language.trim(),
    stt_engine: values.stt_engine,
    llm_engine: values.llm_engine,
    tts_engine: values.tts_engine,
    voice_model: values.voice_model || null,
    max_call_seconds: Number(values.max_call_seconds),
    active: values.active,
    timezone: values.timezone.trim() || "UTC",
    variable_defaults: parseDefaults(values.variable_defaults) ?? {},
  };
}

export function toCreate(values: AgentValues): AgentCreate {
  return toPayload(values);
}

/** Only the fields that differ from the saved agent, for `PATCH`. */
export function changedFields(agent: Agent, values: AgentValues): AgentUpdate {
  const next = toPayload(values);
  // the saved agent through the same mapping: a field an older API leaves out reads as its
  // default, and objects (the variable defaults) compare by content
  const saved = toPayload(valuesFromAgent(agent));
  const changes: AgentUpdate = {};
  for (const key of Object.keys(next) as (keyof typeof next)[]) {
    if (JSON.stringify(next[key]) !== JSON.stringify(saved[key])) Object.assign(changes, { [key]: next[key] });
  }
  return changes;
}
