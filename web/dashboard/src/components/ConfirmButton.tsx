import { useEffect, useRef, useState } from "react";

interface ConfirmButtonProps {
  /** Text of the first button, e.g. "Delete agent". */
  label: string;
  /** The question asked before acting. */
  question: string;
  /** Text of the button that acts, e.g. "Yes, delete". */
  confirmLabel: string;
  onConfirm: () => void | Promise<void>;
  busy?: boolean;
  className?: string;
  /** A fuller name for the first button where several share a page ("Delete notes.md"). */
  ariaLabel?: string;
}

/** A destructive action that asks first, inline; focus lands on "Cancel", the safe choice. */
export function ConfirmButton({ label, question, confirmLabel, onConfirm, busy = false, className = "button button--danger", ariaLabel }: ConfirmButtonProps) {
  const [asking, setAsking] = useState(false);
  const cancelRef = useRef<HTMLButtonElement>(null);
  const openRef = useRef<HTMLButtonElement>(null);
  const wasAsking = useRef(false);

  useEffect(() => {
    if (asking) cancelRef.current?.focus();
    else if (wasAsking.current) openRef.current?.focus();
    wasAsking.current = asking;
  }, [asking]);

  if (!asking) {
    return (
      <button ref={openRef} type="button" className={className} aria-label={ariaLabel} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  return (
    <span className="confirm" role="group" aria-label={question}>
      <span className="confirm__question">{question}</span>
      <button type="button" className="button button--danger button--small" disabled={busy} onClick={() => void onConfirm()}>
        {busy ? "Working…" : confirmLabel}
      </button>
      <button ref={cancelRef} type="button" className="button button--secondary button--small" disabled={busy} onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}
