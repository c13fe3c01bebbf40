import { useState } from "react";
import { ApiError, deleteMcpServer, listMcpServers, testMcpServer, updateMcpServer, type McpServer, type McpTestResult } from "../api";
import { Badge } from "../components/Badge";
import { ConfirmButton } from "../components/ConfirmButton";
import { ErrorBanner } from "../components/ErrorBanner";
import { Empty, LoadFailed, Loading } from "../components/States";
import { formatMs } from "../format";
import { useLoad } from "../useLoad";
import { useSwitchAndDelete } from "./useSwitchAndDelete";
import { HIDDEN_VALUE, transportLabel } from "./mcp";
import { McpServerForm } from "./McpServerForm";

type TestState = { state: "running" } | { state: "ok"; result: McpTestResult; round: number } | { state: "failed"; message: string; code: string };

function allowedSummary(server: McpServer): string {
  if (server.allowed_tools === null) return "every tool the server lists";
  if (!server.allowed_tools.length) return "none yet: test the connection and tick the tools the agent may call";
  return server.allowed_tools.join(", ");
}

/** The tools the last test listed, to tick the ones the agent may call. */
function TestResult({ agentId, server, test, onSaved }: { agentId: string; server: McpServer; test: TestState; onSaved: (server: McpServer) => void }) {
  const initial = test.state === "ok" ? test.result.tools.filter((t) => t.allowed).map((t) => t.name) : [];
  const [picked, setPicked] = useState<string[]>(initial);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState("");
  if (test.state === "running") return <p className="state" role="status">Connecting to {server.name}…</p>;
  if (test.state === "failed") {
    return (
      <div className="banner banner--error" role="alert">
        <span>
          Connection failed: {test.message} <code className="reason">{test.code}</code>
        </span>
      </div>
    );
  }
  const { tools, elapsed_ms } = test.result;
  const save = async () => {
    setBusy(true);
    setError(null);
    setNotice("");
    try {
      onSaved(await updateMcpServer(agentId, server.id, { allowed_tools: picked }));
      setNotice("Allowed tools saved.");
    } catch (e) {
      setError(e instanceof Error ? e.message : "Could not save the allowed tools");
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="mcp-test stack">
      <p className="muted" role="status">
        Connected in {formatMs(elapsed_ms)}: {tools.length === 1 ? "1 tool" : `${tools.length} tools`}.
      </p>
      {tools.length ? (
        <fieldset className="tool-choices">
          <legend className="field__label">Tools of {server.name}</legend>
          <p className="muted">
            The agent can call only the tools ticked and saved here: none until you allow them.
          </p>
          {tools.map((tool) => (
            <label key={tool.name} className="tool-choice">
              <input
                type="checkbox"
                checked={picked.includes(tool.name)}
                onChange={(e) => {
                  setNotice("");
                  setPicked((p) => (e.target.checked ? [...p, tool.name] : p.filter((n) => n !== tool.name)));
                }}
              />
              <span>
                <code>{tool.name}</code>
                {tool.description ? <span className="tool-choice__description">{tool.description}</span> : null}
              </span>
            </label>
          ))}
          <div className="form-actions">
            <button type="button" className="button button--secondary button--small" disabled={busy} onClick={() => void save()}>
              {busy ? "Saving…" : "Save allowed tools"}
            </button>
            <span className="notice" role="status">
              {notice}
            </span>
          </div>
        </fieldset>
      ) : null}
      <ErrorBanner message={error} />
    </div>
  );
}

interface ServerItemProps {
  agentId: string;
  server: McpServer;
  test: TestState | undefined;
  onTest: () => void;
  onEdit: () => void;
  onSaved: (server: McpServer) => void;
  onDeleted: () => void;
}

function ServerItem({ agentId, server, test, onTest, onEdit, onSaved, onDeleted }: ServerItemProps) {
  const { busy, error, toggle, remove } = useSwitchAndDelete({
    what: "server",
    toggle: (active) => updateMcpServer(agentId, server.id, { active }),
    remove: () => deleteMcpServer(agentId, server.id),
    onSaved,
    onDeleted,
  });
  const headingId = `mcp-${server.id}-name`;
  const headerNames = Object.keys(server.headers);

  return (
    <li className="mcp-server" aria-labelledby={headingId}>
      <div className="mcp-server__head">
        <h3 className="mcp-server__name" id={headingId}>
          {server.name}
        </h3>
        {server.active ? <Badge tone="success">Active</Badge> : <Badge>Inactive</Badge>}
        <label className="switch">
          <input type="checkbox" role="switch" checked={server.active} disabled={busy !== null} aria-label={`${server.name} active`} onChange={(e) => void toggle(e.target.checked)} />
          <span aria-hidden="true">Active</span>
        </label>
      </div>
      <dl className="mcp-server__facts">
        <dt>URL</dt>
        <dd>
          <code>{server.url}</code>
        </dd>
        <dt>Transport</dt>
        <dd>
          {transportLabel(server.transport)}, {server.timeout_seconds} s timeout
        </dd>
        <dt>Headers</dt>
        <dd data-testid="mcp-header-names">
          {headerNames.length
            ? headerNames.map((name, i) => (
                <span key={name}>
                  {i ? ", " : ""}
                  <code>{name}</code> {HIDDEN_VALUE}
                </span>
              ))
            : "none"}
        </dd>
        <dt>Allowed tools</dt>
        <dd>{allowedSummary(server)}</dd>
      </dl>
      <div className="row-actions">
        <button type="button" className="button button--secondary button--small" disabled={test?.state === "running"} onClick={onTest}>
          {test?.state === "running" ? "Testing…" : "Test connection"}
        </button>
        <button type="button" className="button button--secondary button--small" onClick={onEdit}>
          Edit
        </button>
        <ConfirmButton
          label="Delete"
          ariaLabel={`Delete ${server.name}`}
          question={`Delete “${server.name}”?`}
          confirmLabel="Yes, delete"
          busy={busy === "delete"}
          className="button button--danger-quiet button--small"
          onConfirm={remove}
        />
      </div>
      <ErrorBanner message={error} />
      {test ? <TestResult key={test.state === "ok" ? `ok-${test.round}` : test.state} agentId={agentId} server={server} test={test} onSaved={onSaved} /> : null}
    </li>
  );
}

/** MCP servers whose tools the agent may call during a call. */
export function McpSection({ agentId }: { agentId: string }) {
  const [servers, reload, replace] = useLoad(() => listMcpServers(agentId), [agentId]);
  const [editing, setEditing] = useState<string | "new" | null>(null);
  const [tests, setTests] = useState<Record<string, TestState>>({});
  const [testRound, setTestRound] = useState(0);
  const list = servers.state === "ready" ? servers.data : null;

  const saved = (server: McpServer) => {
    const current = list ?? [];
    replace(current.some((s) => s.id === server.id) ? current.map((s) => (s.id === server.id ? server : s)) : [...current, server]);
  };
  const runTest = async (server: McpServer) => {
    setTests((t) => ({ ...t, [server.id]: { state: "running" } }));
    let next: TestState;
    const round = testRound + 1;
    setTestRound(round);
    try {
      next = { state: "ok", result: await testMcpServer(agentId, server.id), round };
    } catch (e) {
      next = e instanceof ApiError ? { state: "failed", message: e.fieldMessage("url") ?? e.message, code: e.code } : { state: "failed", message: "Something went wrong", code: "error" };
    }
    setTests((t) => ({ ...t, [server.id]: next }));
  };
  const editingServer = editing && editing !== "new" ? (list?.find((s) => s.id === editing) ?? null) : null;
  const lastTest = editingServer ? tests[editingServer.id] : undefined;

  return (
    <div className="stack-lg">
      <p className="muted">
        Connect MCP servers whose tools the agent may call during a call. Only the tools you allow are offered to the language
        model.
      </p>
      {servers.state === "loading" ? <Loading label="Loading MCP servers…" /> : null}
      {servers.state === "failed" ? <LoadFailed error={servers.error} onRetry={reload} /> : null}
      {list && !list.length && editing !== "new" ? (
        <Empty title="No MCP servers yet">
          <p className="muted">Add one to give the agent tools such as a booking system or a CRM lookup.</p>
        </Empty>
      ) : null}
      {list && list.length ? (
        <ul className="mcp-servers" aria-label="MCP servers">
          {list.map((server) =>
            editing === server.id ? (
              <li key={server.id} className="mcp-server mcp-server--editing">
                <McpServerForm
                  agentId={agentId}
                  server={server}
                  tools={lastTest?.state === "ok" ? lastTest.result.tools : null}
                  onSaved={(s) => {
                    saved(s);
                    setEditing(null);
                  }}
                  onCancel={() => setEditing(null)}
                />
              </li>
            ) : (
              <ServerItem
                key={server.id}
                agentId={agentId}
                server={server}
                test={tests[server.id]}
                onTest={() => void runTest(server)}
                onEdit={() => setEditing(server.id)}
                onSaved={saved}
                onDeleted={() => {
                  replace((list ?? []).filter((s) => s.id !== server.id));
                  setTests(({ [server.id]: _gone, ...rest }) => rest);
                }}
              />
            ),
          )}
        </ul>
      ) : null}
      {editing === "new" ? (
        <div className="mcp-server mcp-server--editing">
          <McpServerForm
            agentId={agentId}
            server={null}
            tools={null}
            onSaved={(s) => {
              saved(s);
              setEditing(null);
            }}
            onCancel={() => setEditing(null)}
          />
        </div>
      ) : list ? (
        <div>
          <button type="button" className="button button--secondary" onClick={() => setEditing("new")}>
            Add MCP server
          </button>
        </div>
      ) : null}
    </div>
  );
}
