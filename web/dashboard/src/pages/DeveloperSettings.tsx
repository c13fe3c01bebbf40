import { useEffect, useRef, useState, type FormEvent } from "react";
import { createKey, listKeys, revokeKey, type ApiKey, type ApiKeyCreated } from "../api";
import { Badge } from "../components/Badge";
import { ConfirmButton } from "../components/ConfirmButton";
import { CopyButton } from "../components/CopyButton";
import { ErrorBanner } from "../components/ErrorBanner";
import { Field } from "../components/Field";
import { Empty, LoadFailed, Loading } from "../components/States";
import { formatDateTime, formatRelative } from "../format";
import { focusFirstInvalid, useFormErrors } from "../formErrors";
import { useLoad } from "../useLoad";

const FIELDS = ["name"] as const;

/** The full secret, shown once right after creation; never stored outside this component. */
function NewKeyPanel({ created, onDone }: { created: ApiKeyCreated; onDone: () => void }) {
  const headingRef = useRef<HTMLHeadingElement>(null);
  useEffect(() => headingRef.current?.focus(), []);
  return (
    <section className="secret-panel" aria-labelledby="new-key-heading">
      <h3 id="new-key-heading" ref={headingRef} tabIndex={-1}>
        Your new key “{created.name}”
      </h3>
      <p>
        <strong>Copy it now: you won't see it again.</strong> Vocable keeps only a hash; if you lose it, revoke it and
        create another.
      </p>
      <div className="secret-panel__value">
        <code data-testid="new-key-secret">{created.key}</code>
        <CopyButton text={created.key} />
      </div>
      <button type="button" className="button button--secondary button--small" onClick={onDone}>
        I've stored it safely
      </button>
    </section>
  );
}

function KeyRow({ apiKey, onRevoked }: { apiKey: ApiKey; onRevoked: (key: ApiKey) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const revoked = apiKey.revoked_at !== null;
  const revoke = async () => {
    setBusy(true);
    setError(null);
    try {
      onRevoked(await revokeKey(apiKey.id));
    } catch (e) {
      setError(e instanceof Error ? e.message : "Could not revoke the key");
      setBusy(false);
    }
  };
  return (
    <tr className={revoked ? "row--muted" : undefined}>
      <th scope="row">{apiKey.name}</th>
      <td>
        <code>{apiKey.prefix}…</code>
      </td>
      <td>
        <time dateTime={apiKey.created_at}>{formatDateTime(apiKey.created_at)}</time>
      </td>
      <td>{apiKey.last_used_at ? <time dateTime={apiKey.last_used_at} title={formatDateTime(apiKey.last_used_at)}>{formatRelative(apiKey.last_used_at)}</time> : "Never"}</td>
      <td>
        {revoked ? (
          <Badge tone="danger">Revoked {formatDateTime(apiKey.revoked_at)}</Badge>
        ) : (
          <Badge tone="success">Active</Badge>
        )}
      </td>
      <td className="cell--actions">
        {revoked ? null : (
          <ConfirmButton
            label="Revoke"
            question={`Revoke “${apiKey.name}”? Backends using it stop working at once.`}
            confirmLabel="Yes, revoke"
            busy={busy}
            onConfirm={revoke}
            className="button button--danger-quiet button--small"
          />
        )}
        {error ? (
          <p className="field__error" role="alert">
            {error}
          </p>
        ) : null}
      </td>
    </tr>
  );
}

/** API keys: list, create (secret shown once), revoke. */
export function DeveloperSettings() {
  const [keys, reload, setKeys] = useLoad(listKeys, []);
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<ApiKeyCreated | null>(null);
  const { errors, fail, clear, setField, clearField } = useFormErrors(FIELDS);
  const formRef = useRef<HTMLFormElement>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    clear();
    if (!name.trim()) {
      setField("name", "Give the key a name, e.g. the backend that will use it");
      requestAnimationFrame(() => focusFirstInvalid(formRef.current));
      return;
    }
    setBusy(true);
    try {
      const key = await createKey(name.trim());
      setCreated(key);
      setName("");
      const { key: _secret, ...listed } = key;
      if (keys.state === "ready") setKeys([listed, ...keys.data]);
      else reload();
    } catch (error) {
      fail(error);
      requestAnimationFrame(() => focusFirstInvalid(formRef.current));
    } finally {
      setBusy(false);
    }
  };

  const onRevoked = (key: ApiKey) => {
    if (keys.state === "ready") setKeys(keys.data.map((k) => (k.id === key.id ? key : k)));
  };

  return (
    <div className="stack-lg">
      <section className="card" aria-labelledby="keys-heading">
        <div className="card__header">
          <div>
            <h2 id="keys-heading">API keys</h2>
            <p className="muted">
              Your backend sends a key in the <code>x-api-key</code> header to{" "}
              <code>POST /api/agents/agent-session/</code> and passes the returned token to the browser. Keep keys on
              the server.
            </p>
          </div>
        </div>

        <form ref={formRef} className="inline-form" onSubmit={(e) => void submit(e)} noValidate>
          <Field label="Key name" error={errors.fields["name"]} hint="For you: which backend or environment uses it." required>
            {(p) => (
              <input
                {...p}
                value={name}
                maxLength={120}
                placeholder="e.g. Production backend"
                onChange={(e) => {
                  setName(e.target.value);
                  clearField("name");
                }}
              />
            )}
          </Field>
          <button type="submit" className="button button--primary" disabled={busy}>
            {busy ? "Creating…" : "Create key"}
          </button>
        </form>
        <ErrorBanner message={errors.banner} />

        {created ? <NewKeyPanel created={created} onDone={() => setCreated(null)} /> : null}

        {keys.state === "loading" ? <Loading label="Loading keys…" /> : null}
        {keys.state === "failed" ? <LoadFailed error={keys.error} onRetry={reload} /> : null}
        {keys.state === "ready" && keys.data.length === 0 ? (
          <Empty title="No API keys yet">
            <p className="muted">Create one above to start sessions from your backend.</p>
          </Empty>
        ) : null}
        {keys.state === "ready" && keys.data.length > 0 ? (
          <div className="table-wrap">
            <table className="table">
              <caption className="visually-hidden">API keys</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Key</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Status</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {keys.data.map((k) => (
                  <KeyRow key={k.id} apiKey={k} onRevoked={onRevoked} />
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </section>
    </div>
  );
}
