import { useRef, useState, type FormEvent } from "react";
import { splitErrors, focusFirstInvalid, useFormErrors, type FormErrors } from "../formErrors";
import { ErrorBanner } from "./ErrorBanner";
import { Field } from "./Field";

/** The API's name for an uploaded file (multipart field `file`), where its refusals are shown. */
const FILE_FIELDS = ["file"] as const;

interface UploadFieldProps<T> {
  /** Label of the file input, e.g. "Document". */
  label: string;
  hint: string;
  /** The input's `accept` list. */
  accept: string;
  /** Text of the submit button, e.g. "Upload document" ("Uploading…" while it runs). */
  submitLabel: string;
  /** Shown next to the input when the form is submitted without a file. */
  missingFile: string;
  /** A check before anything is sent: a message to show next to the input, or `undefined`. */
  validate?: (file: File) => string | undefined;
  /** Sends the file. */
  upload: (file: File) => Promise<T>;
  /** The polite status line after a successful upload. */
  uploadedNotice: (result: T) => string;
  onUploaded: (result: T) => void;
  /** How a failure is shown; defaults to errors on `file` next to the input, the rest in a banner. */
  errorsOf?: (error: unknown) => FormErrors;
}

function fileErrors(error: unknown): FormErrors {
  return splitErrors(error, FILE_FIELDS);
}

/**
 * A one-file upload form: the labelled file input with its hint and errors, the submit
 * button, a banner for errors that are not about the file, and a `role="status"` line for
 * the outcome. Renders siblings (no wrapper), so the caller controls the spacing.
 */
export function UploadField<T>({
  label,
  hint,
  accept,
  submitLabel,
  missingFile,
  validate,
  upload,
  uploadedNotice,
  onUploaded,
  errorsOf = fileErrors,
}: UploadFieldProps<T>) {
  const [file, setFile] = useState<File | null>(null);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState("");
  const errors = useFormErrors(FILE_FIELDS);
  const fileRef = useRef<HTMLInputElement>(null);
  const formRef = useRef<HTMLFormElement>(null);

  const refuse = (message: string) => {
    errors.setField("file", message);
    requestAnimationFrame(() => focusFirstInvalid(formRef.current));
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    errors.clear();
    setNotice("");
    if (!file) {
      refuse(missingFile);
      return;
    }
    const problem = validate?.(file);
    if (problem) {
      refuse(problem);
      return;
    }
    setBusy(true);
    try {
      const result = await upload(file);
      setFile(null);
      if (fileRef.current) fileRef.current.value = "";
      setNotice(uploadedNotice(result));
      onUploaded(result);
    } catch (error) {
      errors.set(errorsOf(error));
      requestAnimationFrame(() => focusFirstInvalid(formRef.current));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <form ref={formRef} className="inline-form" onSubmit={(e) => void submit(e)} noValidate>
        <Field label={label} error={errors.errors.fields["file"]} hint={hint}>
          {(p) => (
            <input
              {...p}
              ref={fileRef}
              type="file"
              accept={accept}
              onChange={(e) => {
                setFile(e.target.files?.[0] ?? null);
                errors.clearField("file");
                setNotice("");
              }}
            />
          )}
        </Field>
        <button type="submit" className="button button--secondary" disabled={busy}>
          {busy ? "Uploading…" : submitLabel}
        </button>
      </form>
      <ErrorBanner message={errors.errors.banner} />
      <p className="notice" role="status">
        {notice}
      </p>
    </>
  );
}
