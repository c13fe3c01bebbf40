import { formatMs } from "./format";

/**
 * Per-turn figures from the worker. livekit-agents reports latencies in seconds under
 * these names; keys ending in `_ms` are already milliseconds. Anything else is shown as is.
 */
const LATENCY_LABELS: Record<string, string> = {
  end_of_turn_delay: "End of utterance",
  transcription_delay: "Transcription",
  on_user_turn_completed_delay: "Turn hook",
  llm_node_ttft: "LLM TTFT",
  tts_node_ttfb: "TTS TTFB",
  e2e_latency: "Total",
};

export interface MetricChip {
  key: string;
  label: string;
  value: string;
}

function labelFor(key: string): string {
  const known = LATENCY_LABELS[key] ?? LATENCY_LABELS[key.replace(/_ms$/, "")];
  if (known) return known;
  const words = key.replace(/_ms$/, "").replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Turns a metrics object into display chips, latencies in milliseconds. */
export function metricChips(metrics: Record<string, unknown>): MetricChip[] {
  const chips: MetricChip[] = [];
  const start = metrics["started_speaking_at"];
  const stop = metrics["stopped_speaking_at"];
  for (const [key, value] of Object.entries(metrics)) {
    if (key === "started_speaking_at" || key === "stopped_speaking_at") continue;
    if (typeof value === "number") {
      const ms = key.endsWith("_ms") ? value : key in LATENCY_LABELS ? value * 1000 : null;
      chips.push({ key, label: labelFor(key), value: ms === null ? String(value) : formatMs(ms) });
    } else if (typeof value === "boolean") {
      if (value) chips.push({ key, label: labelFor(key), value: "yes" });
    } else if (value !== null && value !== undefined) {
      chips.push({ key, label: labelFor(key), value: typeof value === "string" ? value : JSON.stringify(value) });
    }
  }
  if (typeof start === "number" && typeof stop === "number" && stop >= start) {
    chips.push({ key: "speaking", label: "Speaking", value: `${(stop - start).toFixed(1)} s` });
  }
  // the total first: it is the figure people compare
  return chips.sort((a, b) => Number(b.key.startsWith("e2e_latency")) - Number(a.key.startsWith("e2e_latency")));
}
