import type { Agent, AgentCreate, AgentUpdate, CallTools, ConversationSettings, Engines, OverridableField } from "../api";

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
  // --- conversation (`conversation.*` in the API)
  first_message: "agent" | "caller";
  interruptions: boolean;
  interruption_min_seconds: string;
  interruption_min_words: string;
  /** Whether `silence_timeout_seconds` is set (off: `null`). */
  silence_timeout: boolean;
  silence_timeout_seconds: string;
  silence_reminder: string;
  silence_reminders: string;
  /** One phrase per line. */
  end_call_phrases: string;
  goodbye: string;
  temperature: string;
  max_reply_tokens: string;
  // --- built-in call tools (`call_tools.*`)
  end_call_enabled: boolean;
  end_call_description: string;
  transfer_enabled: boolean;
  transfer_description: string;
  transfer_message: string;
  /** What a session may override, in {@link OVERRIDABLE} order. */
  session_overrides: OverridableField[];
}

export type AgentField = keyof AgentValues;

/** The API's name of each value (what a 422 names), e.g. `conversation.temperature`. */
export const API_FIELD: Readonly<Record<AgentField, string>> = {
  name: "name",
  system_prompt: "system_prompt",
  greeting: "greeting",
  language: "language",
  stt_engine: "stt_engine",
  llm_engine: "llm_engine",
  tts_engine: "tts_engine",
  voice_model: "voice_model",
  max_call_seconds: "max_call_seconds",
  active: "active",
  timezone: "timezone",
  variable_defaults: "variable_defaults",
  first_message: "conversation.first_message",
  interruptions: "conversation.interruptions",
  interruption_min_seconds: "conversation.interruption_min_seconds",
  interruption_min_words: "conversation.interruption_min_words",
  silence_timeout: "conversation.silence_timeout_seconds",
  silence_timeout_seconds: "conversation.silence_timeout_seconds",
  silence_reminder: "conversation.silence_reminder",
  silence_reminders: "conversation.silence_reminders",
  end_call_phrases: "conversation.end_call_phrases",
  goodbye: "conversation.goodbye",
  temperature: "conversation.temperature",
  max_reply_tokens: "conversation.max_reply_tokens",
  end_call_enabled: "call_tools.end_call.enabled",
  end_call_description: "call_tools.end_call.description",
  transfer_enabled: "call_tools.transfer_to_human.enabled",
  transfer_description: "call_tools.transfer_to_human.description",
  transfer_message: "call_tools.transfer_to_human.message",
  session_overrides: "session_overrides",
};

/** Every API field name the form shows an error next to. */
export const AGENT_FIELDS: readonly string[] = [...new Set(Object.values(API_FIELD))];

/** What a session may override, in the API's order. */
export const OVERRIDABLE: readonly OverridableField[] = ["system_prompt", "greeting", "language", "voice", "variables"];

/** The API's defaults (src/vocable/contracts/conversation.py): what an agent saved before these settings reads as. */
export const DEFAULT_CONVERSATION: Readonly<ConversationSettings> = {
  first_message: "agent",
  interruptions: true,
  interruption_min_seconds: 0.4,
  interruption_min_words: 0,
  silence_timeout_seconds: null,
  silence_reminder: "Are you still there?",
  silence_reminders: 2,
  end_call_phrases: [],
  goodbye: "Goodbye!",
  temperature: 0.4,
  max_reply_tokens: 160,
};

export const DEFAULT_CALL_TOOLS: Readonly<CallTools> = {
  end_call: {
    enabled: false,
    description:
      "End the call. Call it only when the caller clearly says they are done (for example 'that is all, bye'), never when they ask to wait or are unsure. Say nothing else.",
  },
  transfer_to_human: {
    enabled: false,
    description:
      "Hand the caller over to a human colleague. Call it when the caller asks for a person, or when you cannot help them. Give the reason and a one-sentence summary of the call.",
    message: "Let me connect you with a colleague. One moment, please.",
  },
};

/** Seconds offered when the silence timeout is switched on. */
const DEFAULT_SILENCE_SECONDS = 30;
export const MAX_END_CALL_PHRASES = 20;

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

/** The form values of conversation settings, call tools and overrides, from the API's (defaults filling gaps). */
function settingsValues(agent: Pick<Agent, "conversation" | "call_tools" | "session_overrides"> | null) {
  const c: ConversationSettings = { ...DEFAULT_CONVERSATION, ...(agent?.conversation ?? {}) };
  const endCall = { ...DEFAULT_CALL_TOOLS.end_call, ...(agent?.call_tools?.end_call ?? {}) };
  const transfer = { ...DEFAULT_CALL_TOOLS.transfer_to_human, ...(agent?.call_tools?.transfer_to_human ?? {}) };
  const overrides = agent?.session_overrides ?? OVERRIDABLE;
  return {
    first_message: c.first_message,
    interruptions: c.interruptions,
    interruption_min_seconds: String(c.interruption_min_seconds),
    interruption_min_words: String(c.interruption_min_words),
    silence_timeout: c.silence_timeout_seconds !== null,
    silence_timeout_seconds: String(c.silence_timeout_seconds ?? DEFAULT_SILENCE_SECONDS),
    silence_reminder: c.silence_reminder,
    silence_reminders: String(c.silence_reminders),
    end_call_phrases: c.end_call_phrases.join("\n"),
    goodbye: c.goodbye,
    temperature: String(c.temperature),
    max_reply_tokens: String(c.max_reply_tokens),
    end_call_enabled: endCall.enabled,
    end_call_description: endCall.description,
    transfer_enabled: transfer.enabled,
    transfer_description: transfer.description,
    transfer_message: transfer.message,
    session_overrides: OVERRIDABLE.filter((o) => overrides.includes(o)),
  };
}

/** Defaults for a new agent, matching the API's own defaults. */
export function newAgentValues(engines: Engines | null): AgentValues {
  const first = (kind: keyof Engines, fallback: string) => engines?.[kind][0]?.name ?? fallback;
  return {
    ...settingsValues(null),
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
    ...settingsValues(agent),
  };
}

const isNumber = (text: string) => text.trim() !== "" && Number.isFinite(Number(text));
const isWhole = (text: string) => isNumber(text) && Number.isInteger(Number(text));

/** The end-call phrases as the API takes them: one per non-empty line, trimmed. */
export function parsePhrases(text: string): string[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
}

/**
 * Client-side checks before anything is sent, keyed by the API's field name (as a 422
 * would be); the API validates everything again, ranges included.
 */
export function checkValues(values: AgentValues): Partial<Record<string, string>> {
  const problems: Partial<Record<string, string>> = {};
  if (!values.name.trim()) problems.name = "Give the agent a name";
  if (!values.language.trim()) problems.language = "Choose a language, e.g. en or es-MX";
  if (parseDefaults(values.variable_defaults) === null) {
    problems.variable_defaults = "One name=value per line; names are letters, digits and _";
  }
  const seconds = Number(values.max_call_seconds);
  if (!values.max_call_seconds.trim() || !Number.isInteger(seconds)) {
    problems.max_call_seconds = "Enter a whole number of seconds";
  }
  const number = (field: AgentField, whole: boolean, message: string) => {
    if (!(whole ? isWhole : isNumber)(values[field] as string)) problems[API_FIELD[field]] = message;
  };
  number("interruption_min_seconds", false, "Enter a number of seconds, e.g. 0.4");
  number("interruption_min_words", true, "Enter a whole number of words");
  if (values.silence_timeout) number("silence_timeout_seconds", true, "Enter a whole number of seconds");
  number("silence_reminders", true, "Enter a whole number of reminders");
  number("temperature", false, "Enter a number, e.g. 0.4");
  number("max_reply_tokens", true, "Enter a whole number of tokens");
  const phrases = parsePhrases(values.end_call_phrases);
  if (phrases.length > MAX_END_CALL_PHRASES) problems[API_FIELD.end_call_phrases] = `At most ${MAX_END_CALL_PHRASES} phrases`;
  else if (phrases.some((p) => p.length > 100)) problems[API_FIELD.end_call_phrases] = "Each phrase may have at most 100 characters";
  if (!values.end_call_description.trim()) problems[API_FIELD.end_call_description] = "Tell the model when to use it";
  if (!values.transfer_description.trim()) problems[API_FIELD.transfer_description] = "Tell the model when to use it";
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

interface Payload extends Required<Omit<AgentCreate, "reference_audio_url" | "conversation" | "call_tools">> {
  conversation: ConversationSettings;
  call_tools: CallTools;
}

function toPayload(values: AgentValues): Payload {
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
    conversation: {
      first_message: values.first_message,
      interruptions: values.interruptions,
      interruption_min_seconds: Number(values.interruption_min_seconds),
      interruption_min_words: Number(values.interruption_min_words),
      silence_timeout_seconds: values.silence_timeout ? Number(values.silence_timeout_seconds) : null,
      silence_reminder: values.silence_reminder.trim(),
      silence_reminders: Number(values.silence_reminders),
      end_call_phrases: parsePhrases(values.end_call_phrases),
      goodbye: values.goodbye.trim(),
      temperature: Number(values.temperature),
      max_reply_tokens: Number(values.max_reply_tokens),
    },
    call_tools: {
      end_call: { enabled: values.end_call_enabled, description: values.end_call_description.trim() },
      transfer_to_human: {
        enabled: values.transfer_enabled,
        description: values.transfer_description.trim(),
        message: values.transfer_message.trim(),
      },
    },
    session_overrides: OVERRIDABLE.filter((o) => values.session_overrides.includes(o)),
  };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The fields of `next` that differ from `saved` (one level deep). */
function diff<T extends object>(next: T, saved: T): Partial<T> {
  const out: Partial<T> = {};
  for (const key of Object.keys(next) as (keyof T)[]) if (!same(next[key], saved[key])) out[key] = next[key];
  return out;
}

export function toCreate(values: AgentValues): AgentCreate {
  return toPayload(values);
}

/**
 * Only the fields that differ from the saved agent, for `PATCH`; within `conversation`
 * and `call_tools` only the changed settings (the API merges them into the saved ones).
 */
export function changedFields(agent: Agent, values: AgentValues): AgentUpdate {
  // the saved agent through the same mapping: a field an older API leaves out reads as its
  // default, and objects (the variable defaults) compare by content
  const { conversation, call_tools: tools, ...next } = toPayload(values);
  const { conversation: savedConversation, call_tools: savedTools, ...saved } = toPayload(valuesFromAgent(agent));
  const changes: AgentUpdate = diff(next, saved);
  const conversationChanges = diff(conversation, savedConversation);
  if (Object.keys(conversationChanges).length) changes.conversation = conversationChanges;
  const endCall = diff(tools.end_call, savedTools.end_call);
  const transfer = diff(tools.transfer_to_human, savedTools.transfer_to_human);
  if (Object.keys(endCall).length || Object.keys(transfer).length) {
    changes.call_tools = {
      ...(Object.keys(endCall).length ? { end_call: endCall } : {}),
      ...(Object.keys(transfer).length ? { transfer_to_human: transfer } : {}),
    };
  }
  return changes;
}
