import { Field } from "./Field";

export const PASSWORD_HINT = "At least 10 characters and hard to guess: a few unrelated words work well.";

interface NewPasswordFieldsProps {
  password: string;
  confirm: string;
  onPassword: (value: string) => void;
  onConfirm: (value: string) => void;
  /** Errors keyed `password` (the API's name for a new password) and `confirm`. */
  errors: Record<string, string>;
  repeatLabel?: string;
}

/** A new password typed twice (the accept-invite, reset and account pages). */
export function NewPasswordFields({ password, confirm, onPassword, onConfirm, errors, repeatLabel = "Repeat the password" }: NewPasswordFieldsProps) {
  return (
    <>
      <Field label="New password" hint={PASSWORD_HINT} error={errors["password"]} required>
        {(p) => <input {...p} type="password" autoComplete="new-password" value={password} onChange={(e) => onPassword(e.target.value)} />}
      </Field>
      <Field label={repeatLabel} error={errors["confirm"]} required>
        {(p) => <input {...p} type="password" autoComplete="new-password" value={confirm} onChange={(e) => onConfirm(e.target.value)} />}
      </Field>
    </>
  );
}
