import { useRef, useState, type FormEvent } from "react";
import { login, type User } from "../api";
import { BrandMark } from "../components/BrandMark";
import { ErrorBanner } from "../components/ErrorBanner";
import { Field } from "../components/Field";
import { focusFirstInvalid, useFormErrors } from "../formErrors";
import { useTitle } from "../useTitle";

const FIELDS = ["email", "password"] as const;

export function LoginPage({ onSignedIn }: { onSignedIn: (user: User, failedAttempts: number) => void }) {
  useTitle("Sign in");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const { errors, fail, clear, setField } = useFormErrors(FIELDS);
  const formRef = useRef<HTMLFormElement>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    clear();
    let missing = false;
    if (!email.trim()) {
      setField("email", "Enter your email");
      missing = true;
    }
    if (!password) {
      setField("password", "Enter your password");
      missing = true;
    }
    if (missing) {
      requestAnimationFrame(() => focusFirstInvalid(formRef.current));
      return;
    }
    setBusy(true);
    try {
      const { user, failed_attempts } = await login(email.trim(), password);
      onSignedIn(user, failed_attempts ?? 0);
    } catch (error) {
      fail(error);
      setBusy(false);
      requestAnimationFrame(() => focusFirstInvalid(formRef.current));
    }
  };

  return (
    <main className="login">
      <div className="login__card">
        <div className="login__brand">
          <BrandMark />
          <span>Vocable</span>
        </div>
        <h1>Sign in</h1>
        <p className="muted">Manage your voice agents, API keys and calls.</p>
        <form ref={formRef} onSubmit={(e) => void submit(e)} noValidate className="stack">
          <ErrorBanner message={errors.banner} />
          <Field label="Email" error={errors.fields["email"]} required>
            {(p) => (
              <input {...p} type="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} />
            )}
          </Field>
          <Field label="Password" error={errors.fields["password"]} required>
            {(p) => (
              <input
                {...p}
                type="password"
                autoComplete="current-password"
                value={password}
                onChange={(e) => setPassword(e.target.value)}
              />
            )}
          </Field>
          <button type="submit" className="button button--primary button--block" disabled={busy}>
            {busy ? "Signing in…" : "Sign in"}
          </button>
        </form>
        <p className="login__help muted">
          First run? <code>vocable up</code> prints the admin's email and password; <code>vocable admin create</code> adds more.
        </p>
      </div>
    </main>
  );
}
