/**
 * The browser protocol (docs/protocol.md): topics and the JSON frames that travel on them.
 * Pure functions, no LiveKit dependency.
 */

/** Topic the browser publishes typed messages on. */
export const TOPIC_USER_TEXT = "voice.user_text";
/** Topic of chat messages from the agent: echoes, speech transcripts and agent turns. */
export const TOPIC_REPLY = "voice.reply";
/** Topic of non-chat agent events: agent state, interim transcripts, voice fallback, handoff. */
export const TOPIC_EVENTS = "voice.events";

/** Agent state, for UI indicators; unknown states pass through as strings. */
export type AgentState = "initializing" | "idle" | "listening" | "thinking" | "speaking" | (string & {});

/** A frame read from `voice.reply`. */
export interface ReplyFrame {
  /** `user_text` for echoes and transcripts of the caller; anything else is an agent turn. */
  kind: "user_text" | "agent";
  /** Trimmed, non-empty text. */
  text: string;
}

/**
 * Why the agent could not use its cloning engine and speaks in its standard (embedded)
 * voice instead; unknown reasons pass through as strings.
 *
 * - `not_configured`: the deployment has no settings for that engine.
 * - `unavailable`: the engine could not be reached.
 * - `clone_failed`: the engine refused or failed to clone the reference voice.
 */
export type VoiceFallbackReason = "not_configured" | "unavailable" | "clone_failed" | (string & {});

/** A frame read from `voice.events`. */
export type EventFrame =
  | { kind: "agent_state"; state: AgentState }
  | { kind: "interim"; text: string }
  | { kind: "voice_fallback"; voiceModel: string; reason: VoiceFallbackReason }
  | { kind: "voice_restored"; voiceModel: string }
  | { kind: "handoff"; reason: string; summary: string };

const decoder = new TextDecoder();
const encoder = new TextEncoder();

function parseObject(payload: Uint8Array): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(decoder.decode(payload));
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined; // Not JSON: ignore the frame, as the protocol says.
  }
}

function stringField(data: Record<string, unknown>, key: string): string {
  const value = data[key];
  return typeof value === "string" ? value : "";
}

/** Reads a `voice.reply` frame; `undefined` for garbage or empty text. */
export function parseReply(payload: Uint8Array): ReplyFrame | undefined {
  const data = parseObject(payload);
  if (!data) return undefined;
  const text = (stringField(data, "text") || stringField(data, "message")).trim();
  if (!text) return undefined;
  return { kind: data["type"] === "user_text" ? "user_text" : "agent", text };
}

/**
 * Reads a `voice.events` frame; `undefined` for garbage, unknown types, voice frames
 * without a `voice_model` (or, for `voice_fallback`, a `reason`), and `handoff` frames
 * whose `reason` or `summary` is not a string.
 */
export function parseEvent(payload: Uint8Array): EventFrame | undefined {
  const data = parseObject(payload);
  if (!data) return undefined;
  if (data["type"] === "agent_state" && typeof data["state"] === "string") {
    return { kind: "agent_state", state: data["state"] };
  }
  if (data["type"] === "interim" && typeof data["text"] === "string") {
    return { kind: "interim", text: data["text"] };
  }
  if (data["type"] === "handoff") {
    const { reason, summary } = data;
    if (typeof reason !== "string" || typeof summary !== "string") return undefined;
    return { kind: "handoff", reason: reason.trim(), summary: summary.trim() };
  }
  const voiceModel = stringField(data, "voice_model");
  if (!voiceModel) return undefined;
  if (data["type"] === "voice_fallback") {
    const reason = stringField(data, "reason");
    return reason ? { kind: "voice_fallback", voiceModel, reason } : undefined;
  }
  if (data["type"] === "voice_restored") return { kind: "voice_restored", voiceModel };
  return undefined;
}

/** Encodes a typed message for `voice.user_text`. */
export function encodeUserText(text: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(JSON.stringify({ type: "user_text", text }));
}
