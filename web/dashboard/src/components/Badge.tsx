import type { ReactNode } from "react";

export type BadgeTone = "neutral" | "success" | "warning" | "danger" | "info";

export function Badge({ tone = "neutral", children }: { tone?: BadgeTone; children: ReactNode }) {
  return <span className={`badge badge--${tone}`}>{children}</span>;
}

/** The tone for a call record's status. */
export function statusTone(status: string): BadgeTone {
  switch (status) {
    case "active":
      return "info";
    case "ended":
      return "success";
    case "created":
      return "neutral";
    case "failed":
    case "error":
      return "danger";
    default:
      return "warning";
  }
}
