import { useRef, useState, type FormEvent } from "react";
import { createHttpTool, deleteHttpTool, listHttpTools, updateHttpTool, type HttpMethod, type HttpTool } from "../api";
import { Badge } from "../components/Badge";
import { ConfirmButton } from "../components/ConfirmButton";
import { ErrorBanner } from "../components/ErrorBanner";
import { CheckboxField, Field } from "../components/Field";
import { Empty, LoadFailed, Loading } from "../components/States";
import { focusFirstInvalid, useFormErrors } from "../formErrors";
import { useLoad } from "../useLoad";
import { useSwitchAndDelete } from "./useSwitchAndDelete";
import {
  DESCRIPTION_MAX,
  METHODS,
  TOOL_FIELDS,
  TOOL_TIMEOUT_MAX,
  TOOL_TIMEOUT_MIN,
  checkToolValues,
  parameterSummary,
  toToolCreate,
  toToolUpdate,
  valuesFromTool,
  type ToolValues,
} from "./httpTools";
import { HIDDEN_VALUE, normaliseFields } from "./mcp";
import { StoredHeaders } from "./McpServerForm";

interface ToolFormProps {
  agentId: string;
  /** The tool being edited, or `null` to add one. */
  tool: HttpTool | null;
  onSaved: (tool: HttpTool) => void;
  onCancel: () => void;
}

/** Add or edit one HTTP tool. Header values are write-only: stored ones show as names. */
export function HttpToolForm({ agentId, tool, onSaved, onCancel }: ToolFormProps) {
  const [values, setValues] = useState<ToolValues>(() => valuesFromTool(tool));
  const [busy, setBusy] = useState(false);
  const errors = useFormErrors(TOOL_FIELDS);
  const formRef = useRef<HTMLFormElement>(null);
  const set = <K extends keyof ToolValues>(key: K, value: ToolValues[K]) => {
    setValues((v) => ({ ...v, [key]: value }));
    const field = key === "timeout" ? "timeout_seconds" : key === "parametersText" ? "parameters" : key === "replaceHeaders" ? "headers" : key;
    errors.clearField(field);
  };
  const storedHeaders = tool ? Object.keys(tool.headers) : [];
  const headersError = errors.errors.fields["headers"];

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    errors.clear();
    const problems = checkToolValues(values);
    if (Object.keys(problems).length) {
      errors.show(problems);
      requestAnimationFrame(() => focusFirstInvalid(formRef.current));
      return;
    }
    setBusy(true);
    try {
      const saved = tool ? await updateHttpTool(agentId, tool.id, toToolUpdate(values, tool)) : await createHttpTool(agentId, toToolCreate(values));
      setValues((v) => ({ ...v, headers: [] })); // typed values are not kept
      onSaved(saved);
    } catch (error) {
      errors.fail(normaliseFields(error));
      requestAnimationFrame(() => focusFirstInvalid(formRef.current));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form ref={formRef} className="mcp-form stack" onSubmit={(e) => void submit(e)} noValidate aria-label={tool ? `Edit ${tool.name}` : "Add HTTP tool"}>
      <h3 className="h4">{tool ? `Edit “${tool.name}”` : "Add an HTTP tool"}</h3>
      <div className="grid-2">
        <Field label="Function name" required error={errors.errors.fields["name"]} hint="What the language model calls, e.g. get_order_status.">
          {(p) => <input {...p} value={values.name} maxLength={64} autoComplete="off" onChange={(e) => set("name", e.target.value)} />}
        </Field>
        <Field label="Method" error={errors.errors.fields["method"]}>
          {(p) => (
            <select {...p} value={values.method} onChange={(e) => set("method", e.target.value as HttpMethod)}>
              {METHODS.map((m) => (
                <option key={m} value={m}>
                  {m}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Endpoint URL" required error={errors.errors.fields["url"]} hint="Checked against the outbound rules when you save. {{variables}} may be used in the path and query.">
          {(p) => <input {...p} type="url" inputMode="url" placeholder="https://shop.example.com/api/orders" value={values.url} maxLength={2048} onChange={(e) => set("url", e.target.value)} />}
        </Field>
        <Field label="Timeout (seconds)" error={errors.errors.fields["timeout_seconds"]} hint={`${TOOL_TIMEOUT_MIN} to ${TOOL_TIMEOUT_MAX}.`}>
          {(p) => <input {...p} type="number" inputMode="numeric" min={TOOL_TIMEOUT_MIN} max={TOOL_TIMEOUT_MAX} step={1} value={values.timeout} onChange={(e) => set("timeout", e.target.value)} />}
        </Field>
      </div>
      <Field label="Description" required error={errors.errors.fields["description"]} hint="What the tool does and when to use it: the language model reads this.">
        {(p) => <textarea {...p} rows={2} maxLength={DESCRIPTION_MAX} value={values.description} onChange={(e) => set("description", e.target.value)} />}
      </Field>
      <Field
        label="Parameters (JSON schema)"
        error={errors.errors.fields["parameters"]}
        hint='An object schema with flat properties of type string, number, integer or boolean (optional "description" and "enum") and a "required" list. GET sends them as query parameters, other methods as a JSON body.'
      >
        {(p) => <textarea {...p} rows={8} spellCheck={false} className="mono" value={values.parametersText} onChange={(e) => set("parametersText", e.target.value)} />}
      </Field>

      <fieldset className="fieldset">
        <legend>Headers</legend>
        <p className="field__hint">Sent with every call, e.g. an Authorization token; values may hold {"{{variables}}"}. Values are stored encrypted and never shown again.</p>
        <StoredHeaders
          replacing={values.replaceHeaders}
          rows={values.headers}
          stored={storedHeaders}
          editing={tool !== null}
          error={headersError}
          onRows={(rows) => set("headers", rows)}
          onReplacing={(replaceHeaders, headers) => setValues((v) => ({ ...v, replaceHeaders, headers }))}
        />
      </fieldset>

      <CheckboxField label="Tool enabled" checked={values.enabled} onChange={(checked) => set("enabled", checked)} hint="Disabled tools are not offered during calls." />

      <ErrorBanner message={errors.errors.banner} />
      <div className="form-actions">
        <button type="submit" className="button button--primary" disabled={busy}>
          {busy ? "Saving…" : tool ? "Save tool" : "Add tool"}
        </button>
        <button type="button" className="button button--secondary" disabled={busy} onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function ToolItem({ agentId, tool, onEdit, onSaved, onDeleted }: { agentId: string; tool: HttpTool; onEdit: () => void; onSaved: (tool: HttpTool) => void; onDeleted: () => void }) {
  const { busy, error, toggle, remove } = useSwitchAndDelete({
    what: "tool",
    toggle: (enabled) => updateHttpTool(agentId, tool.id, { enabled }),
    remove: () => deleteHttpTool(agentId, tool.id),
    onSaved,
    onDeleted,
  });
  const headingId = `tool-${tool.id}-name`;
  const headerNames = Object.keys(tool.headers);
  return (
    <li className="mcp-server" aria-labelledby={headingId}>
      <div className="mcp-server__head">
        <h3 className="mcp-server__name" id={headingId}>
          <code>{tool.name}</code>
        </h3>
        {tool.enabled ? <Badge tone="success">Enabled</Badge> : <Badge>Disabled</Badge>}
        <label className="switch">
          <input type="checkbox" role="switch" checked={tool.enabled} disabled={busy !== null} aria-label={`${tool.name} enabled`} onChange={(e) => void toggle(e.target.checked)} />
          <span aria-hidden="true">Enabled</span>
        </label>
      </div>
      <p className="muted">{tool.description}</p>
      <dl className="mcp-server__facts">
        <dt>Request</dt>
        <dd>
          <code>
            {tool.method} {tool.url}
          </code>
          , {tool.timeout_seconds} s timeout
        </dd>
        <dt>Parameters</dt>
        <dd>{parameterSummary(tool.parameters)}</dd>
        <dt>Headers</dt>
        <dd data-testid="tool-header-names">
          {headerNames.length
            ? headerNames.map((name, i) => (
                <span key={name}>
                  {i ? ", " : ""}
                  <code>{name}</code> {HIDDEN_VALUE}
                </span>
              ))
            : "none"}
        </dd>
        {tool.variables.length ? (
          <>
            <dt>Variables</dt>
            <dd>{tool.variables.map((v) => `{{${v}}}`).join(", ")}</dd>
          </>
        ) : null}
      </dl>
      <div className="row-actions">
        <button type="button" className="button button--secondary button--small" onClick={onEdit}>
          Edit
        </button>
        <ConfirmButton
          label="Delete"
          ariaLabel={`Delete ${tool.name}`}
          question={`Delete “${tool.name}”?`}
          confirmLabel="Yes, delete"
          busy={busy === "delete"}
          className="button button--danger-quiet button--small"
          onConfirm={remove}
        />
      </div>
      <ErrorBanner message={error} />
    </li>
  );
}

/** The business's HTTP endpoints the agent may call during a call. */
export function HttpToolsSection({ agentId }: { agentId: string }) {
  const [tools, reload, replace] = useLoad(() => listHttpTools(agentId), [agentId]);
  const [editing, setEditing] = useState<string | "new" | null>(null);
  const list = tools.state === "ready" ? tools.data : null;
  const saved = (tool: HttpTool) => {
    const current = list ?? [];
    replace(current.some((t) => t.id === tool.id) ? current.map((t) => (t.id === tool.id ? tool : t)) : [...current, tool]);
    setEditing(null);
  };
  return (
    <div className="stack-lg">
      <p className="muted">
        Let the agent call your own HTTP API during a call: an order lookup, a booking. The language model sees each tool&apos;s name,
        description and parameters; the answer is read back to it. {"{{variables}}"} are filled from each session&apos;s metadata.
      </p>
      {tools.state === "loading" ? <Loading label="Loading HTTP tools…" /> : null}
      {tools.state === "failed" ? <LoadFailed error={tools.error} onRetry={reload} /> : null}
      {list && !list.length && editing !== "new" ? (
        <Empty title="No HTTP tools yet">
          <p className="muted">Add one to let the agent look things up in your own systems.</p>
        </Empty>
      ) : null}
      {list && list.length ? (
        <ul className="mcp-servers" aria-label="HTTP tools">
          {list.map((tool) =>
            editing === tool.id ? (
              <li key={tool.id} className="mcp-server mcp-server--editing">
                <HttpToolForm agentId={agentId} tool={tool} onSaved={saved} onCancel={() => setEditing(null)} />
              </li>
            ) : (
              <ToolItem key={tool.id} agentId={agentId} tool={tool} onEdit={() => setEditing(tool.id)} onSaved={saved} onDeleted={() => replace((list ?? []).filter((t) => t.id !== tool.id))} />
            ),
          )}
        </ul>
      ) : null}
      {editing === "new" ? (
        <div className="mcp-server mcp-server--editing">
          <HttpToolForm agentId={agentId} tool={null} onSaved={saved} onCancel={() => setEditing(null)} />
        </div>
      ) : list ? (
        <div>
          <button type="button" className="button button--secondary" onClick={() => setEditing("new")}>
            Add HTTP tool
          </button>
        </div>
      ) : null}
    </div>
  );
}
