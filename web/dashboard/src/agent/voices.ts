import type { Voice } from "../api";
import { formatDateTime, formatRelative } from "../format";

/** "4.2 s". */
export function formatSeconds(seconds: number): string {
  return Number.isFinite(seconds) ? `${seconds.toFixed(1)} s` : "—";
}

/** Who added a voice: "you", "a teammate" or "an API key". */
export function addedByLabel(voice: Voice, currentUserId: string | null): string {
  if (voice.created_by_kind === "api_key") return `an API key (${voice.created_by_id})`;
  return voice.created_by_id === currentUserId ? "you" : `a teammate (${voice.created_by_id})`;
}

/** One line for the picker: name, length, where it came from, when. */
export function voiceOptionLabel(voice: Voice): string {
  const origin = voice.source === "url" ? "from a URL" : "uploaded";
  return `${voice.name} · ${formatSeconds(voice.duration_seconds)} · ${origin} ${formatDateTime(voice.created_at)}`;
}

/** Provenance of the stored voice: source, added when and by whom. */
export function provenance(voice: Voice, currentUserId: string | null, now?: number): string {
  const source = voice.source === "url" ? `Fetched from ${voice.source_url ?? "a URL"}` : "Uploaded";
  return `${source} ${formatRelative(voice.created_at, now)} by ${addedByLabel(voice, currentUserId)}`;
}
