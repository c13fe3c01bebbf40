import type { CallRecord } from "./api";
import { secondsBetween } from "./format";

/** A call's length: what the worker measured, else join to end (or to now while live), else `null`. */
export function callSeconds(call: CallRecord, now: number = Date.now()): number | null {
  // the worker's own measure of the conversation, else join to end
  const measured = call.usage["duration_seconds"];
  if (typeof measured === "number") return measured;
  if (call.started_at && call.ended_at) return secondsBetween(call.started_at, call.ended_at);
  if (call.status === "active" && call.started_at) return (now - new Date(call.started_at).getTime()) / 1000;
  return null;
}

const STATUS_LABELS: Record<string, string> = {
  created: "Not joined",
  active: "In progress",
  ended: "Ended",
};

export function statusLabel(status: string): string {
  return STATUS_LABELS[status] ?? status;
}

/** Labels of end reasons that read better than their code (others are {@link humanise}d). */
const END_REASON_LABELS: Record<string, string> = {
  caller_left: "Caller left",
  max_duration: "Reached the call length limit",
  not_joined: "Caller never joined",
  silence_timeout: "Silence: no answer to the reminders",
  end_call_phrase: "Caller said an end-call phrase",
  agent_ended: "Agent ended the call",
  transferred: "Transferred to a person",
};

/** A call's end reason for people: "transferred" → "Transferred to a person"; `—` for none. */
export function endReasonLabel(reason: string | null | undefined): string {
  return (reason && END_REASON_LABELS[reason]) || humanise(reason);
}

/** The agent's handoff to a person, from the call's `usage.conversation.handoff`, if any. */
export function callHandoff(call: CallRecord): { reason: string; summary: string } | null {
  const conversation = call.usage["conversation"];
  if (!conversation || typeof conversation !== "object") return null;
  const handoff = (conversation as Record<string, unknown>)["handoff"];
  if (!handoff || typeof handoff !== "object") return null;
  const { reason, summary } = handoff as Record<string, unknown>;
  return { reason: typeof reason === "string" ? reason : "", summary: typeof summary === "string" ? summary : "" };
}

/** "caller_left" → "Caller left". */
export function humanise(code: string | null | undefined): string {
  if (!code) return "—";
  const words = code.replace(/[_-]+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}
