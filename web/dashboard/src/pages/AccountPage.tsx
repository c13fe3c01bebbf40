import { useRef, useState, type FormEvent } from "react";
import { changePassword } from "../api";
import { ErrorBanner } from "../components/ErrorBanner";
import { Field } from "../components/Field";
import { NewPasswordFields } from "../components/NewPasswordFields";
import { PageHeader } from "../components/PageHeader";
import { focusFirstInvalid, useFormErrors } from "../formErrors";
import { useSession } from "../session";
import { useTitle } from "../useTitle";

const FIELDS = ["current_password", "password", "confirm"] as const;

/** `/account`: who you are, and your password. */
export function AccountPage() {
  useTitle("Your account");
  const { user } = useSession();
  const [current, setCurrent] = useState("");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);
  const { errors, fail, clear, setField } = useFormErrors(FIELDS);
  const formRef = useRef<HTMLFormElement>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    clear();
    setDone(false);
    if (password !== confirm) {
      setField("confirm", "The two passwords differ");
      requestAnimationFrame(() => focusFirstInvalid(formRef.current));
      return;
    }
    setBusy(true);
    try {
      await changePassword(current, password);
      setDone(true);
      setCurrent("");
      setPassword("");
      setConfirm("");
    } catch (error) {
      // the API names the new password `password`
      fail(error);
      requestAnimationFrame(() => focusFirstInvalid(formRef.current));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <PageHeader title="Your account" description={`${user.email} · ${user.role} of ${user.org_name}`} />
      <section className="card" aria-labelledby="password-heading">
        <h2 id="password-heading">Change password</h2>
        <p className="muted">Your other sign-ins end; this one stays.</p>
        <form ref={formRef} onSubmit={(e) => void submit(e)} noValidate className="stack narrow">
          <ErrorBanner message={errors.banner} />
          <Field label="Current password" error={errors.fields["current_password"]} required>
            {(p) => <input {...p} type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} />}
          </Field>
          <NewPasswordFields
            password={password}
            confirm={confirm}
            onPassword={setPassword}
            onConfirm={setConfirm}
            errors={errors.fields}
            repeatLabel="Repeat the new password"
          />
          <div className="form-actions">
            <button type="submit" className="button button--primary" disabled={busy || !current || !password}>
              {busy ? "Saving…" : "Change password"}
            </button>
            {done ? (
              <p className="notice" role="status">
                Password changed.
              </p>
            ) : null}
          </div>
        </form>
      </section>
    </>
  );
}
