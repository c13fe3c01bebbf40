import { ApiError, type DocumentStatus, type KnowledgeDocument } from "../api";
import { splitErrors, type FormErrors } from "../formErrors";
import type { BadgeTone } from "../components/Badge";

/** How often the document list is refreshed while an ingestion is under way. */
export const POLL_MS = 2000;

export const DOCUMENT_ACCEPT = ".pdf,.docx,.txt,.md,.html";

/** Whether ingestion of the document is still under way (the list keeps polling). */
export function isIngesting(status: DocumentStatus): boolean {
  return status === "pending" || status === "processing";
}

export function anyIngesting(documents: readonly KnowledgeDocument[]): boolean {
  return documents.some((d) => isIngesting(d.status));
}

export function documentStatusTone(status: DocumentStatus): BadgeTone {
  switch (status) {
    case "ready":
      return "success";
    case "failed":
      return "danger";
    case "processing":
      return "info";
    default:
      return "neutral";
  }
}

export const DOCUMENT_STATUS_LABELS: Record<DocumentStatus, string> = {
  pending: "Queued",
  processing: "Indexing",
  ready: "Ready",
  failed: "Failed",
};

// refusals of the document itself (size, type, content, quota) that name no field
const DOCUMENT_REFUSALS = new Set([409, 411, 413, 415, 422]);

/**
 * Errors of an upload (`field` "file") or an add-by-URL (`field` "url") request. A refusal
 * of the document is shown next to the one field the form has, whichever field the API
 * named (the URL route reports the fetched document's type on `file`) or none (413, 409).
 */
export function documentErrors(error: unknown, field: "file" | "url"): FormErrors {
  if (error instanceof ApiError && DOCUMENT_REFUSALS.has(error.status)) {
    const named = error.fieldMessage(field) ?? error.fieldMessage("file") ?? error.fieldMessage("url");
    const others = error.errors.filter((e) => e.field !== "file" && e.field !== "url");
    if (!others.length) return { fields: { [field]: named ?? error.message }, banner: null };
  }
  return splitErrors(error, [field]);
}

/** "12 KB", "3.4 MB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "—";
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value >= 10 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

/** A retrieval score as shown next to a passage. */
export function formatScore(score: number): string {
  return Number.isFinite(score) ? score.toFixed(3) : "—";
}
