import type { FormEvent, Ref } from "react";
import { ErrorBanner } from "./ErrorBanner";
import { Field } from "./Field";

interface UrlFieldProps {
  /** Label of the URL input, e.g. "Document URL". */
  label: string;
  hint: string;
  placeholder: string;
  /** The input's text; the caller owns it (and what submitting it means). */
  value: string;
  /** A keystroke: the caller stores the text and clears the field's error and the status line. */
  onChange: (value: string) => void;
  onSubmit: (event: FormEvent) => void;
  /** Text of the submit button, e.g. "Add URL"; `busyLabel` (e.g. "Fetching…") while `busy`. */
  submitLabel: string;
  busyLabel: string;
  busy: boolean;
  /** The message next to the input, wired up through `aria-describedby` and `aria-invalid`. */
  error?: string | undefined;
  /** Errors that are not about the URL. */
  banner: string | null;
  /** The polite status line. */
  notice: string;
  /** The form, for moving focus to the invalid input after a refusal. */
  formRef?: Ref<HTMLFormElement>;
}

/**
 * A one-URL form: the labelled URL input with its hint and error, the submit button, a
 * banner for errors that are not about the URL, and a `role="status"` line for the outcome.
 * Presentational: the caller checks, sends and words the outcome. Renders siblings (no
 * wrapper), so the caller controls the spacing.
 */
export function UrlField({
  label,
  hint,
  placeholder,
  value,
  onChange,
  onSubmit,
  submitLabel,
  busyLabel,
  busy,
  error,
  banner,
  notice,
  formRef,
}: UrlFieldProps) {
  return (
    <>
      <form ref={formRef} className="inline-form" onSubmit={onSubmit} noValidate>
        <Field label={label} error={error} hint={hint}>
          {(p) => (
            <input
              {...p}
              type="url"
              inputMode="url"
              placeholder={placeholder}
              value={value}
              maxLength={2048}
              onChange={(e) => onChange(e.target.value)}
            />
          )}
        </Field>
        <button type="submit" className="button button--secondary" disabled={busy}>
          {busy ? busyLabel : submitLabel}
        </button>
      </form>
      <ErrorBanner message={banner} />
      <p className="notice" role="status">
        {notice}
      </p>
    </>
  );
}
