import { useEffect, useState } from "react";

/** Copies `text` with the async clipboard API, or a hidden textarea where that is unavailable. */
export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard?.writeText) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // Denied (e.g. an insecure origin): try the older way below.
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  let copied = false;
  try {
    copied = document.execCommand("copy");
  } catch {
    copied = false;
  }
  area.remove();
  return copied;
}

interface CopyButtonProps {
  text: string;
  label?: string;
  /** A fuller name for screen readers where several Copy buttons share a page. */
  ariaLabel?: string;
  className?: string;
}

/** A "Copy" button that says whether it worked, for screen readers too. */
export function CopyButton({ text, label = "Copy", ariaLabel, className = "button button--secondary button--small" }: CopyButtonProps) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  useEffect(() => {
    if (state === "idle") return;
    const timer = window.setTimeout(() => setState("idle"), 2000);
    return () => window.clearTimeout(timer);
  }, [state]);

  return (
    <span className="copy">
      <button type="button" className={className} aria-label={ariaLabel} onClick={() => void copyText(text).then((ok) => setState(ok ? "copied" : "failed"))}>
        {label}
      </button>
      <span className="copy__status" role="status">
        {state === "copied" ? "Copied" : state === "failed" ? "Copy failed: select the text and copy it" : ""}
      </span>
    </span>
  );
}
