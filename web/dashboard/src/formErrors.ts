import { useCallback, useState } from "react";
import { ApiError } from "./api";

export interface FormErrors {
  /** Messages for fields the form shows, keyed by the API's field name. */
  fields: Record<string, string>;
  /** Everything else, for the form's alert banner. */
  banner: string | null;
}

const NONE: FormErrors = { fields: {}, banner: null };

/**
 * The known field an error's field belongs to: itself, or the longest known field it is
 * inside of (`conversation.end_call_phrases.3` → `conversation.end_call_phrases`).
 */
function knownFieldOf(field: string, knownFields: readonly string[]): string | undefined {
  if (knownFields.includes(field)) return field;
  return knownFields
    .filter((known) => field.startsWith(`${known}.`))
    .sort((a, b) => b.length - a.length)[0];
}

/**
 * Splits a failure into messages next to known fields and one banner message for the rest
 * (unknown fields, non-validation errors, network failures).
 */
export function splitErrors(error: unknown, knownFields: readonly string[]): FormErrors {
  if (!(error instanceof ApiError)) {
    return { fields: {}, banner: error instanceof Error ? error.message : "Something went wrong" };
  }
  const fields: Record<string, string> = {};
  const others: string[] = [];
  for (const { field, message } of error.errors) {
    const known = knownFieldOf(field, knownFields);
    if (known) fields[known] ??= message;
    else others.push(field === "body" ? message : `${field}: ${message}`);
  }
  let banner: string | null = null;
  if (others.length) banner = `${error.message} (${others.join("; ")})`;
  else if (!Object.keys(fields).length) banner = error.message;
  return { fields, banner };
}

/** Form error state with helpers to fill it from a caught error and to clear one field. */
export function useFormErrors(knownFields: readonly string[]) {
  const [errors, setErrors] = useState<FormErrors>(NONE);
  const fail = useCallback(
    (error: unknown): FormErrors => {
      const next = splitErrors(error, knownFields);
      setErrors(next);
      return next;
    },
    // the known fields are a constant per form
    [knownFields.join(",")],
  );
  const clear = useCallback(() => setErrors(NONE), []);
  const clearField = useCallback((field: string) => {
    setErrors((prev) => {
      if (!(field in prev.fields)) return prev;
      const fields = { ...prev.fields };
      delete fields[field];
      return { ...prev, fields };
    });
  }, []);
  const setField = useCallback((field: string, message: string) => {
    setErrors((prev) => ({ ...prev, fields: { ...prev.fields, [field]: message } }));
  }, []);
  const show = useCallback((fields: Record<string, string | undefined>) => {
    const present: Record<string, string> = {};
    for (const [field, message] of Object.entries(fields)) if (message) present[field] = message;
    setErrors({ fields: present, banner: null });
  }, []);
  const set = useCallback((next: FormErrors) => setErrors(next), []);
  return { errors, fail, clear, clearField, setField, show, set };
}

/** Moves focus to the first control marked invalid inside `root`, so keyboard users land on it. */
export function focusFirstInvalid(root: HTMLElement | null): void {
  const target = root?.querySelector<HTMLElement>("[aria-invalid='true']");
  target?.focus();
}
