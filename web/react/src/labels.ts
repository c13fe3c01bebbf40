import type { AgentState, ConnectionState } from "@vocable/client";

/** Every string {@link VoiceCallPanel} shows or announces; pass a partial set to translate or rename. */
export interface VoiceCallLabels {
  /** Accessible name of the panel when no `title` is given. */
  title: string;
  /** Status text for each connection state. */
  statusIdle: string;
  statusConnecting: string;
  statusConnected: string;
  statusReconnecting: string;
  statusDisconnected: string;
  startCall: string;
  endCall: string;
  /** Name of the microphone toggle (its on/off state is `aria-pressed`). */
  microphone: string;
  /** Accessible name of the message list. */
  conversation: string;
  /** Accessible name and placeholder of the text input. */
  message: string;
  messagePlaceholder: string;
  send: string;
  /** Accessible names of the meters, and their short visible captions. */
  agentLevel: string;
  microphoneLevel: string;
  agentCaption: string;
  microphoneCaption: string;
  /** Agent state texts; other states show nothing. */
  agentListening: string;
  agentThinking: string;
  agentSpeaking: string;
  /** Notice shown while the agent speaks in its standard voice because its cloned voice is unavailable. */
  voiceFallback: string;
  /** Notice shown once the agent hands the caller over to a person (its `transfer_to_human` tool). */
  handoff: string;
  /** Text before the handoff's reason, e.g. "Reason:". */
  handoffReason: string;
}

/** The English defaults. */
export const defaultLabels: Readonly<VoiceCallLabels> = Object.freeze({
  title: "Voice agent",
  statusIdle: "Not connected",
  statusConnecting: "Connecting…",
  statusConnected: "Connected",
  statusReconnecting: "Reconnecting…",
  statusDisconnected: "Call ended",
  startCall: "Start call",
  endCall: "End call",
  microphone: "Microphone",
  conversation: "Conversation",
  message: "Message",
  messagePlaceholder: "Type a message",
  send: "Send",
  agentLevel: "Agent audio level",
  microphoneLevel: "Microphone level",
  agentCaption: "Agent",
  microphoneCaption: "You",
  agentListening: "Listening",
  agentThinking: "Thinking…",
  agentSpeaking: "Speaking",
  voiceFallback: "The agent is using its standard voice right now.",
  handoff: "Connecting you with a person…",
  handoffReason: "Reason:",
});

/** The status text for `state`. */
export function statusLabel(labels: VoiceCallLabels, state: ConnectionState): string {
  switch (state) {
    case "idle":
      return labels.statusIdle;
    case "connecting":
      return labels.statusConnecting;
    case "connected":
      return labels.statusConnected;
    case "reconnecting":
      return labels.statusReconnecting;
    case "disconnected":
      return labels.statusDisconnected;
  }
}

/** The text for an agent state, or `""` for states the panel does not show. */
export function agentStateLabel(labels: VoiceCallLabels, state: AgentState | null): string {
  if (state === "listening") return labels.agentListening;
  if (state === "thinking") return labels.agentThinking;
  if (state === "speaking") return labels.agentSpeaking;
  return "";
}
