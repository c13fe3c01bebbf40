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

/** "caller_left" → "Caller left". */
export function humanise(code: string | null | undefined): string {
  if (!code) return "—";
  const words = code.replace(/[_-]+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}
