import { useRef, useState, type FormEvent } from "react";
import { createMcpServer, updateMcpServer, type McpServer, type McpTool, type McpTransport } from "../api";
import { ErrorBanner } from "../components/ErrorBanner";
import { CheckboxField, Field } from "../components/Field";
import { focusFirstInvalid, useFormErrors } from "../formErrors";
import {
  HIDDEN_VALUE,
  MCP_FIELDS,
  TIMEOUT_MAX,
  TIMEOUT_MIN,
  TRANSPORTS,
  checkMcpValues,
  normaliseFields,
  parseToolNames,
  toCreate,
  toUpdate,
  toggleToolName,
  valuesFromServer,
  type HeaderRow,
  type McpValues,
} from "./mcp";

interface McpServerFormProps {
  agentId: string;
  /** The server being edited, or `null` to add one. */
  server: McpServer | null;
  /** The tools the last connection test listed, if any: the allow-list becomes checkboxes. */
  tools: McpTool[] | null;
  onSaved: (server: McpServer, created: boolean) => void;
  onCancel: () => void;
}

export function HeaderRows({ rows, onChange, invalid }: { rows: HeaderRow[]; onChange: (rows: HeaderRow[]) => void; invalid: boolean }) {
  const set = (index: number, patch: Partial<HeaderRow>) => onChange(rows.map((r, i) => (i === index ? { ...r, ...patch } : r)));
  return (
    <div className="header-rows">
      {rows.map((row, i) => (
        <div className="header-row" key={i}>
          <input
            aria-label={`Header ${i + 1} name`}
            aria-invalid={invalid || undefined}
            placeholder="Authorization"
            value={row.name}
            maxLength={100}
            autoComplete="off"
            onChange={(e) => set(i, { name: e.target.value })}
          />
          <input
            aria-label={`Header ${i + 1} value`}
            aria-invalid={invalid || undefined}
            type="password"
            placeholder="Bearer …"
            value={row.value}
            maxLength={4096}
            autoComplete="new-password"
            onChange={(e) => set(i, { value: e.target.value })}
          />
          <button type="button" className="button button--ghost button--small" aria-label={`Remove header ${i + 1}`} onClick={() => onChange(rows.filter((_, j) => j !== i))}>
            Remove
          </button>
        </div>
      ))}
      <div>
        <button type="button" className="button button--secondary button--small" onClick={() => onChange([...rows, { name: "", value: "" }])}>
          Add header
        </button>
      </div>
    </div>
  );
}

/**
 * Write-only headers: the stored names with hidden values and "Replace headers", or rows
 * to type new ones (with "Keep the stored headers" while editing something that has some).
 */
export function StoredHeaders({
  replacing,
  rows,
  stored,
  editing,
  error,
  onRows,
  onReplacing,
}: {
  replacing: boolean;
  rows: HeaderRow[];
  /** The names of the headers stored now (their values are never sent back). */
  stored: string[];
  editing: boolean;
  error: string | undefined;
  onRows: (rows: HeaderRow[]) => void;
  /** Switch between the stored headers and new rows (these rows). */
  onReplacing: (replacing: boolean, rows: HeaderRow[]) => void;
}) {
  return (
    <>
      {replacing ? (
        <>
          <HeaderRows rows={rows} onChange={onRows} invalid={Boolean(error)} />
          {editing && stored.length ? (
            <div>
              <button type="button" className="button button--ghost button--small" onClick={() => onReplacing(false, [])}>
                Keep the stored headers
              </button>
            </div>
          ) : null}
        </>
      ) : (
        <div className="stack">
          {stored.length ? (
            <ul className="header-names" aria-label="Stored headers">
              {stored.map((name) => (
                <li key={name}>
                  <code>{name}</code>: <span aria-label="hidden value">{HIDDEN_VALUE}</span>
                </li>
              ))}
            </ul>
          ) : (
            <p className="muted">No headers.</p>
          )}
          <div>
            <button
              type="button"
              className="button button--secondary button--small"
              onClick={() => onReplacing(true, stored.length ? stored.map((name) => ({ name, value: "" })) : [{ name: "", value: "" }])}
            >
              {stored.length ? "Replace headers" : "Add headers"}
            </button>
          </div>
        </div>
      )}
      {error ? (
        <p className="field__error" role="alert">
          {error}
        </p>
      ) : null}
    </>
  );
}

/** Add or edit one MCP server. Header values are write-only: stored ones show as names. */
export function McpServerForm({ agentId, server, tools, onSaved, onCancel }: McpServerFormProps) {
  const [values, setValues] = useState<McpValues>(() => valuesFromServer(server));
  const [busy, setBusy] = useState(false);
  const errors = useFormErrors(MCP_FIELDS);
  const formRef = useRef<HTMLFormElement>(null);
  const set = <K extends keyof McpValues>(key: K, value: McpValues[K]) => {
    setValues((v) => ({ ...v, [key]: value }));
    const field = key === "timeout" ? "timeout_seconds" : key === "allowedText" || key === "allowAll" ? "allowed_tools" : key === "replaceHeaders" ? "headers" : key;
    errors.clearField(field);
  };
  const storedHeaders = server ? Object.keys(server.headers) : [];
  const prefix = server ? `mcp-edit-${server.id}` : "mcp-new";

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    errors.clear();
    const problems = checkMcpValues(values);
    if (Object.keys(problems).length) {
      errors.show(problems);
      requestAnimationFrame(() => focusFirstInvalid(formRef.current));
      return;
    }
    setBusy(true);
    try {
      const saved = server ? await updateMcpServer(agentId, server.id, toUpdate(values, server)) : await createMcpServer(agentId, toCreate(values));
      // the values typed are not kept: the saved server shows header names only
      setValues((v) => ({ ...v, headers: [] }));
      onSaved(saved, server === null);
    } catch (error) {
      errors.fail(normaliseFields(error));
      requestAnimationFrame(() => focusFirstInvalid(formRef.current));
    } finally {
      setBusy(false);
    }
  };

  // the checkboxes list the tested tools and any allowed name the test did not list
  const picked = parseToolNames(values.allowedText);
  const choices = tools ? [...tools.map((t) => ({ name: t.name, description: t.description })), ...picked.filter((n) => !tools.some((t) => t.name === n)).map((name) => ({ name, description: "not listed by the last test" }))] : null;
  const headersError = errors.errors.fields["headers"];
  const allowedError = errors.errors.fields["allowed_tools"];

  return (
    <form ref={formRef} className="mcp-form stack" onSubmit={(e) => void submit(e)} noValidate aria-label={server ? `Edit ${server.name}` : "Add MCP server"}>
      <h3 className="h4">{server ? `Edit “${server.name}”` : "Add an MCP server"}</h3>
      <div className="grid-2">
        <Field label="Server name" required error={errors.errors.fields["name"]}>
          {(p) => <input {...p} value={values.name} maxLength={120} onChange={(e) => set("name", e.target.value)} />}
        </Field>
        <Field label="Server URL" required error={errors.errors.fields["url"]} hint="Checked against the outbound rules when you save.">
          {(p) => <input {...p} type="url" inputMode="url" placeholder="https://mcp.example.com/mcp" value={values.url} maxLength={2048} onChange={(e) => set("url", e.target.value)} />}
        </Field>
        <Field label="Transport" error={errors.errors.fields["transport"]}>
          {(p) => (
            <select {...p} value={values.transport} onChange={(e) => set("transport", e.target.value as McpTransport)}>
              {TRANSPORTS.map((t) => (
                <option key={t.value} value={t.value}>
                  {t.label}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Timeout (seconds)" error={errors.errors.fields["timeout_seconds"]} hint={`${TIMEOUT_MIN} to ${TIMEOUT_MAX}; for connecting and for each tool call.`}>
          {(p) => <input {...p} type="number" inputMode="numeric" min={TIMEOUT_MIN} max={TIMEOUT_MAX} step={1} value={values.timeout} onChange={(e) => set("timeout", e.target.value)} />}
        </Field>
      </div>

      <fieldset className="fieldset">
        <legend>Headers</legend>
        <p className="field__hint" id={`${prefix}-headers-hint`}>
          Sent with every request to the server, e.g. an Authorization token. Values are stored encrypted and never shown again.
        </p>
        <StoredHeaders
          replacing={values.replaceHeaders}
          rows={values.headers}
          stored={storedHeaders}
          editing={server !== null}
          error={headersError}
          onRows={(rows) => set("headers", rows)}
          onReplacing={(replaceHeaders, headers) => setValues((v) => ({ ...v, replaceHeaders, headers }))}
        />
      </fieldset>

      <fieldset className="fieldset">
        <legend>Tools</legend>
        <CheckboxField
          label="Allow every tool the server lists"
          checked={values.allowAll}
          onChange={(checked) => set("allowAll", checked)}
          hint="Otherwise the agent may call only the tools named below; none until you name some."
        />
        {values.allowAll ? null : choices ? (
          <fieldset className="tool-choices" aria-describedby={allowedError ? `${prefix}-allowed-error` : undefined}>
            <legend className="field__label">Allowed tools</legend>
            {choices.length ? (
              choices.map((tool) => (
                <CheckboxField key={tool.name} label={tool.name} hint={tool.description || undefined} checked={picked.includes(tool.name)} onChange={(on) => set("allowedText", toggleToolName(values.allowedText, tool.name, on))} />
              ))
            ) : (
              <p className="muted">The last test listed no tools.</p>
            )}
            {allowedError ? (
              <p className="field__error" id={`${prefix}-allowed-error`}>
                {allowedError}
              </p>
            ) : null}
          </fieldset>
        ) : (
          <Field label="Allowed tools" error={allowedError} hint="One tool name a line. Test the connection to pick from the server's list instead.">
            {(p) => <textarea {...p} rows={4} value={values.allowedText} onChange={(e) => set("allowedText", e.target.value)} />}
          </Field>
        )}
      </fieldset>

      <CheckboxField label="Server active" checked={values.active} onChange={(checked) => set("active", checked)} hint="Inactive servers are not connected during calls." />

      <ErrorBanner message={errors.errors.banner} />
      <div className="form-actions">
        <button type="submit" className="button button--primary" disabled={busy}>
          {busy ? "Saving…" : server ? "Save server" : "Add server"}
        </button>
        <button type="button" className="button button--secondary" disabled={busy} onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
