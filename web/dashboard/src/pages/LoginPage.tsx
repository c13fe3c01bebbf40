import { useEffect, useRef, useState, type FormEvent } from "react";
import { authOptions, login, requestPasswordReset, type User } from "../api";
import { AuthCard } from "../components/AuthCard";
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
    <AuthCard title="Sign in" intro="Manage your voice agents, API keys and calls.">
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
      <ForgotPassword />
      <p className="login__help muted">
        First run? <code>vocable up</code> prints the owner's email and password. Teammates join with an invitation
        link from an admin (Members).
      </p>
    </AuthCard>
  );
}

/** "Forgot password?": an e-mailed link when the server can send mail, else who can reset it. */
function ForgotPassword() {
  const [open, setOpen] = useState(false);
  const [byEmail, setByEmail] = useState<boolean | null>(null);
  const [email, setEmail] = useState("");
  const [sent, setSent] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const { errors, fail, clear } = useFormErrors(["email"]);
  useEffect(() => {
    if (open && byEmail === null) {
      authOptions().then(
        (o) => setByEmail(o.password_reset_by_email),
        () => setByEmail(false),
      );
    }
  }, [open, byEmail]);
  if (!open) {
    return (
      <p className="login__help">
        <button type="button" className="button button--link" onClick={() => setOpen(true)}>
          Forgot your password?
        </button>
      </p>
    );
  }
  if (byEmail === false) {
    return (
      <p className="login__help muted" role="status">
        Ask an admin of your organisation to reset it, or run <code>vocable admin reset-password EMAIL</code> on the
        server.
      </p>
    );
  }
  const send = async (event: FormEvent) => {
    event.preventDefault();
    clear();
    setBusy(true);
    try {
      setSent((await requestPasswordReset(email.trim())).message);
    } catch (error) {
      fail(error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={(e) => void send(e)} noValidate className="stack login__help" aria-label="Reset password">
      <ErrorBanner message={errors.banner} />
      <Field label="Your account's email" error={errors.fields["email"]} required>
        {(p) => <input {...p} type="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} />}
      </Field>
      <button type="submit" className="button button--secondary" disabled={busy || byEmail === null || !email.trim()}>
        Send a reset link
      </button>
      {sent ? (
        <p className="notice" role="status">
          {sent}.
        </p>
      ) : null}
    </form>
  );
}
