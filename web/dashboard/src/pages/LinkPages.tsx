import { useEffect, useRef, useState, type FormEvent } from "react";
import { acceptInvite, confirmPasswordReset, login, lookupInvite, type Role, type User } from "../api";
import { AuthCard } from "../components/AuthCard";
import { ErrorBanner } from "../components/ErrorBanner";
import { NewPasswordFields } from "../components/NewPasswordFields";
import { Loading } from "../components/States";
import { focusFirstInvalid, useFormErrors } from "../formErrors";
import { Link } from "../router";
import { useTitle } from "../useTitle";

/** The token of an invitation or reset link: after `#`, so it never reaches a server log. */
function linkToken(): string {
  return decodeURIComponent(window.location.hash.replace(/^#/, ""));
}

const FIELDS = ["password", "confirm"] as const;

/** A new password typed twice; the API's policy answers for the rest. */
function NewPasswordForm({ submitLabel, onSubmit }: { submitLabel: string; onSubmit: (password: string) => Promise<void> }) {
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [busy, setBusy] = useState(false);
  const { errors, fail, clear, setField } = useFormErrors(FIELDS);
  const formRef = useRef<HTMLFormElement>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    clear();
    if (password !== confirm) {
      setField("confirm", "The two passwords differ");
      requestAnimationFrame(() => focusFirstInvalid(formRef.current));
      return;
    }
    setBusy(true);
    try {
      await onSubmit(password);
    } catch (error) {
      fail(error);
      setBusy(false);
      requestAnimationFrame(() => focusFirstInvalid(formRef.current));
    }
  };
  return (
    <form ref={formRef} onSubmit={(e) => void submit(e)} noValidate className="stack">
      <ErrorBanner message={errors.banner} />
      <NewPasswordFields password={password} confirm={confirm} onPassword={setPassword} onConfirm={setConfirm} errors={errors.fields} />
      <button type="submit" className="button button--primary button--block" disabled={busy || !password}>
        {busy ? "Saving…" : submitLabel}
      </button>
    </form>
  );
}

/** `/accept-invite#<token>`: join an organisation with the invited address and a new password. */
export function AcceptInvitePage({ onSignedIn }: { onSignedIn: (user: User) => void }) {
  useTitle("Join your team");
  const [token] = useState(linkToken);
  const [invite, setInvite] = useState<{ email: string; role: Role; org_name: string } | null | "invalid">(null);
  useEffect(() => {
    lookupInvite(token).then(setInvite, () => setInvite("invalid"));
  }, [token]);
  if (invite === null) return <Loading />;
  if (invite === "invalid") {
    return (
      <AuthCard title="This invitation does not work" intro="It was used, revoked or has expired. Ask an admin for a new one.">
        <Link to="/login">Sign in</Link>
      </AuthCard>
    );
  }
  const join = async (password: string) => {
    await acceptInvite(token, password);
    const { user } = await login(invite.email, password);
    onSignedIn(user);
  };
  return (
    <AuthCard
      title={`Join ${invite.org_name}`}
      intro={
        <>
          You are invited as <strong>{invite.role}</strong> with <strong>{invite.email}</strong>. Choose a password to
          sign in with.
        </>
      }
    >
      <NewPasswordForm submitLabel="Join" onSubmit={join} />
    </AuthCard>
  );
}

/** `/reset-password#<token>`: the e-mailed link; every sign-in of the account ends. */
export function ResetPasswordPage() {
  useTitle("Reset your password");
  const [token] = useState(linkToken);
  const [done, setDone] = useState(false);
  if (done) {
    return (
      <AuthCard title="Password changed" intro="Sign in with your new password.">
        <Link to="/login" className="button button--primary button--block">
          Sign in
        </Link>
      </AuthCard>
    );
  }
  return (
    <AuthCard title="Choose a new password" intro="The link works once, for an hour.">
      <NewPasswordForm
        submitLabel="Change password"
        onSubmit={async (password) => {
          await confirmPasswordReset(token, password);
          setDone(true);
        }}
      />
    </AuthCard>
  );
}
