import { useEffect, useRef, useState, type FormEvent } from "react";
import { createKey, listAgents, listKeys, revokeKey, updateKey, type Agent, type ApiKey, type ApiKeyCreated, type Scope } from "../api";
import { Badge } from "../components/Badge";
import { ConfirmButton } from "../components/ConfirmButton";
import { CopyButton } from "../components/CopyButton";
import { ErrorBanner } from "../components/ErrorBanner";
import { Field } from "../components/Field";
import { Empty, LoadFailed, Loading } from "../components/States";
import { formatDateTime, formatRelative } from "../format";
import { focusFirstInvalid, useFormErrors } from "../formErrors";
import { DEFAULT_SCOPES, SCOPE_GROUPS, describeScopes } from "../scopes";
import { useLoad } from "../useLoad";

const FIELDS = ["name", "scopes", "agent_ids"] as const;

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

function KeyAgents({ ids, agents }: { ids: string[]; agents: Agent[] }) {
  if (!ids.length) return <>All agents</>;
  const names = ids.map((id) => agents.find((a) => a.id === id)?.name ?? id);
  return <>{names.join(", ")}</>;
}

function KeyRow({ apiKey, agents, onRevoked, onEdit }: { apiKey: ApiKey; agents: Agent[]; onRevoked: (key: ApiKey) => void; onEdit: (key: ApiKey) => void }) {
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
      <th scope="row">
        <span className="key-table__name">
          {apiKey.name}
          {revoked ? (
            <span className="key-table__revoked">
              <Badge tone="danger">Revoked</Badge>
              <time className="muted" dateTime={apiKey.revoked_at ?? undefined}>
                {formatDateTime(apiKey.revoked_at)}
              </time>
            </span>
          ) : (
            <Badge tone="success">Active</Badge>
          )}
        </span>
      </th>
      <td>
        <code>{apiKey.prefix}…</code>
      </td>
      <td className="key-table__scopes">
        <span title={apiKey.scopes.join(" ")}>{describeScopes(apiKey.scopes)}</span>
      </td>
      <td>
        <KeyAgents ids={apiKey.agent_ids} agents={agents} />
      </td>
      <td>
        <time dateTime={apiKey.created_at}>{formatDateTime(apiKey.created_at)}</time>
      </td>
      <td>{apiKey.last_used_at ? <time dateTime={apiKey.last_used_at} title={formatDateTime(apiKey.last_used_at)}>{formatRelative(apiKey.last_used_at)}</time> : "Never"}</td>
      <td className="cell--actions">
        {revoked ? null : (
          <div className="row-actions">
            <button type="button" className="button button--secondary button--small" onClick={() => onEdit(apiKey)} aria-label={`Edit permissions of “${apiKey.name}”`}>
              Edit
            </button>
            <ConfirmButton
              label="Revoke"
              question={`Revoke “${apiKey.name}”? Backends using it stop working at once.`}
              confirmLabel="Yes, revoke"
              busy={busy}
              onConfirm={revoke}
              className="button button--danger-quiet button--small"
            />
          </div>
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

/** Which scopes a new key gets: "Full access" or a pick of scopes ("Create sessions" by default). */
function ScopePicker({ scopes, onChange, error, idPrefix }: { scopes: Scope[]; onChange: (next: Scope[]) => void; error: string | undefined; idPrefix: string }) {
  const full = scopes.includes("admin");
  const toggle = (scope: Scope, on: boolean) => onChange(on ? [...scopes.filter((s) => s !== scope), scope] : scopes.filter((s) => s !== scope));
  return (
    <fieldset className="fieldset key-scopes" aria-describedby={error ? `${idPrefix}-scopes-error` : undefined}>
      <legend>Permissions</legend>
      <p className="muted">
        Give each backend only what it needs: a backend that starts calls needs nothing but <em>Create sessions</em>.
      </p>
      <label className="tool-choice">
        <input type="checkbox" checked={full} onChange={(e) => onChange(e.target.checked ? ["admin"] : [...DEFAULT_SCOPES])} />
        <span>
          Full access <code>admin</code>
          <span className="tool-choice__description">Everything below, now and later; keys themselves stay managed here.</span>
        </span>
      </label>
      <div className="grid-3">
        {SCOPE_GROUPS.map((group) => (
          <div key={group.title} className="tool-choices">
            <span className="field__label">{group.title}</span>
            {group.choices.map((choice) => (
              <label key={choice.scope} className="tool-choice">
                <input type="checkbox" disabled={full} checked={full || scopes.includes(choice.scope)} onChange={(e) => toggle(choice.scope, e.target.checked)} />
                <span>
                  {choice.label}
                  <span className="tool-choice__description">
                    <code>{choice.scope}</code>
                  </span>
                </span>
              </label>
            ))}
          </div>
        ))}
      </div>
      {error ? (
        <p className="field__error" id={`${idPrefix}-scopes-error`} role="alert">
          {error}
        </p>
      ) : null}
    </fieldset>
  );
}

/** Optionally limit a new key to some agents (empty: all of them). */
function AgentPicker({ agents, picked, onChange, error, idPrefix }: { agents: Agent[]; picked: string[] | null; onChange: (next: string[] | null) => void; error: string | undefined; idPrefix: string }) {
  return (
    <fieldset className="fieldset" aria-describedby={error ? `${idPrefix}-agents-error` : undefined}>
      <legend>Agents</legend>
      <label className="tool-choice">
        <input type="radio" name={`${idPrefix}-agents`} checked={picked === null} onChange={() => onChange(null)} />
        <span>All agents, including ones created later</span>
      </label>
      <label className="tool-choice">
        <input type="radio" name={`${idPrefix}-agents`} checked={picked !== null} disabled={!agents.length} onChange={() => onChange([])} />
        <span>Only these agents{agents.length ? "" : " (create an agent first)"}</span>
      </label>
      {picked !== null ? (
        <div className="tool-choices key-agents">
          {agents.map((agent) => (
            <label key={agent.id} className="tool-choice">
              <input
                type="checkbox"
                checked={picked.includes(agent.id)}
                onChange={(e) => onChange(e.target.checked ? [...picked, agent.id] : picked.filter((id) => id !== agent.id))}
              />
              <span>
                {agent.name} <code className="tool-choice__description">{agent.id}</code>
              </span>
            </label>
          ))}
        </div>
      ) : null}
      {error ? (
        <p className="field__error" id={`${idPrefix}-agents-error`} role="alert">
          {error}
        </p>
      ) : null}
    </fieldset>
  );
}

/** What is wrong with a key's grant before it is sent: `[field, message]`, or null. */
function grantProblem(scopes: Scope[], agentIds: string[] | null): [string, string] | null {
  if (!scopes.length) return ["scopes", "Pick at least one permission"];
  if (agentIds !== null && !agentIds.length) return ["agent_ids", "Pick at least one agent, or choose all agents"];
  return null;
}

/** A key's permissions and agents, as chosen at creation and when it is edited. */
function KeyGrantFields({
  idPrefix,
  agents,
  scopes,
  agentIds,
  errors,
  onScopes,
  onAgents,
  clearField,
}: {
  idPrefix: string;
  agents: Agent[];
  scopes: Scope[];
  agentIds: string[] | null;
  errors: Record<string, string | undefined>;
  onScopes: (next: Scope[]) => void;
  onAgents: (next: string[] | null) => void;
  /** A field's error goes once it is changed. */
  clearField: (field: string) => void;
}) {
  return (
    <>
      <ScopePicker
        idPrefix={idPrefix}
        scopes={scopes}
        error={errors["scopes"]}
        onChange={(next) => {
          onScopes(next);
          clearField("scopes");
        }}
      />
      <AgentPicker
        idPrefix={idPrefix}
        agents={agents}
        picked={agentIds}
        error={errors["agent_ids"]}
        onChange={(next) => {
          onAgents(next);
          clearField("agent_ids");
        }}
      />
    </>
  );
}

/** A key's permissions and agents, changed in place: the backend keeps its secret. */
function EditKeyPanel({ apiKey, agents, onSaved, onCancel }: { apiKey: ApiKey; agents: Agent[]; onSaved: (key: ApiKey) => void; onCancel: () => void }) {
  const [scopes, setScopes] = useState<Scope[]>([...apiKey.scopes]);
  const [agentIds, setAgentIds] = useState<string[] | null>(apiKey.agent_ids.length ? [...apiKey.agent_ids] : null);
  const [busy, setBusy] = useState(false);
  const { errors, fail, clear, setField, clearField } = useFormErrors(FIELDS);
  const headingRef = useRef<HTMLHeadingElement>(null);
  useEffect(() => headingRef.current?.focus(), []);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    clear();
    const problem = grantProblem(scopes, agentIds);
    if (problem) {
      setField(...problem);
      return;
    }
    setBusy(true);
    try {
      onSaved(await updateKey(apiKey.id, { scopes, agent_ids: agentIds ?? [] }));
    } catch (error) {
      fail(error);
      setBusy(false);
    }
  };

  return (
    <section className="edit-key-panel" aria-labelledby="edit-key-heading">
      <h3 id="edit-key-heading" ref={headingRef} tabIndex={-1}>
        Permissions of “{apiKey.name}” <code className="muted">{apiKey.prefix}…</code>
      </h3>
      <p className="muted">Changes apply to the next request made with this key; its secret stays the same.</p>
      <form className="stack" onSubmit={(e) => void save(e)} noValidate>
        <KeyGrantFields
          idPrefix="edit-key"
          agents={agents}
          scopes={scopes}
          agentIds={agentIds}
          errors={errors.fields}
          onScopes={setScopes}
          onAgents={setAgentIds}
          clearField={clearField}
        />
        <ErrorBanner message={errors.banner} />
        <div className="form-actions">
          <button type="submit" className="button button--primary" disabled={busy}>
            {busy ? "Saving…" : "Save permissions"}
          </button>
          <button type="button" className="button button--secondary" onClick={onCancel} disabled={busy}>
            Cancel
          </button>
        </div>
      </form>
    </section>
  );
}

/** API keys: list, create (secret shown once) with scopes and agents, change what a key may do, revoke. */
export function DeveloperSettings() {
  const [keys, reload, setKeys] = useLoad(listKeys, []);
  const [agentList] = useLoad(listAgents, []);
  const agents = agentList.state === "ready" ? agentList.data : [];
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<Scope[]>([...DEFAULT_SCOPES]);
  const [agentIds, setAgentIds] = useState<string[] | null>(null);
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
    const problem = grantProblem(scopes, agentIds);
    if (problem) {
      setField(...problem);
      return;
    }
    setBusy(true);
    try {
      const key = await createKey({ name: name.trim(), scopes, agent_ids: agentIds ?? [] });
      setCreated(key);
      setName("");
      setScopes([...DEFAULT_SCOPES]);
      setAgentIds(null);
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

  const [editing, setEditing] = useState<ApiKey | null>(null);
  const replaceKey = (key: ApiKey) => {
    if (keys.state === "ready") setKeys(keys.data.map((k) => (k.id === key.id ? key : k)));
  };
  const onRevoked = (key: ApiKey) => {
    replaceKey(key);
    if (editing?.id === key.id) setEditing(null);
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

        {editing ? (
          <EditKeyPanel
            key={editing.id}
            apiKey={editing}
            agents={agents}
            onSaved={(key) => {
              replaceKey(key);
              setEditing(null);
            }}
            onCancel={() => setEditing(null)}
          />
        ) : null}

        {editing ? null : (
          <form ref={formRef} className="stack key-form" onSubmit={(e) => void submit(e)} noValidate>
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
            <KeyGrantFields
              idPrefix="key"
              agents={agents}
              scopes={scopes}
              agentIds={agentIds}
              errors={errors.fields}
              onScopes={setScopes}
              onAgents={setAgentIds}
              clearField={clearField}
            />
            <div className="form-actions">
              <button type="submit" className="button button--primary" disabled={busy}>
                {busy ? "Creating…" : "Create key"}
              </button>
            </div>
          </form>
        )}
        {editing ? null : <ErrorBanner message={errors.banner} />}

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
            <table className="table key-table">
              <caption className="visually-hidden">API keys</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Key</th>
                  <th scope="col">Permissions</th>
                  <th scope="col">Agents</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col" className="cell--actions">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {keys.data.map((k) => (
                  <KeyRow key={k.id} apiKey={k} agents={agents} onRevoked={onRevoked} onEdit={setEditing} />
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </section>
    </div>
  );
}
