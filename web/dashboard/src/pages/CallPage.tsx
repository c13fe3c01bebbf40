import { getSession, listAgents, type CallDetail, type Turn } from "../api";
import { Badge, statusTone } from "../components/Badge";
import { PageHeader } from "../components/PageHeader";
import { LoadFailed, Loading, isNotFound } from "../components/States";
import { callHandoff, callSeconds, endReasonLabel, humanise, statusLabel } from "../calls";
import { formatDateTime, formatDuration } from "../format";
import { metricChips } from "../metrics";
import { Link } from "../router";
import { useLoad } from "../useLoad";
import { useTitle } from "../useTitle";

const ROLE_LABELS: Record<string, string> = { user: "Caller", agent: "Agent", assistant: "Agent", tool: "Tool" };

function TurnItem({ turn }: { turn: Turn }) {
  const chips = metricChips(turn.metrics);
  return (
    <li className={`turn turn--${turn.role}`}>
      <div className="turn__head">
        <span className="turn__role">{ROLE_LABELS[turn.role] ?? turn.role}</span>
        <time className="turn__time" dateTime={turn.created_at}>
          {new Date(turn.created_at).toLocaleTimeString()}
        </time>
      </div>
      <p className="turn__text">{turn.text}</p>
      {chips.length ? (
        <dl className="metrics" aria-label="Latency">
          {chips.map((c) => (
            <div key={c.key} className="metrics__item">
              <dt>{c.label}</dt>
              <dd>{c.value}</dd>
            </div>
          ))}
        </dl>
      ) : null}
    </li>
  );
}

function UsageValue({ value }: { value: unknown }) {
  if (Array.isArray(value)) {
    if (!value.length) return <span className="muted">none</span>;
    return (
      <ul className="usage-list">
        {value.map((item, i) => (
          <li key={i}>
            <UsageValue value={item} />
          </li>
        ))}
      </ul>
    );
  }
  if (value !== null && typeof value === "object") {
    return <UsageTable usage={value as Record<string, unknown>} nested />;
  }
  return <span>{value === null || value === undefined ? "—" : String(value)}</span>;
}

const USAGE_LABELS: Record<string, string> = {
  duration_seconds: "Duration",
  models: "Engines",
  turns: "Turns recorded",
  ignored_messages: "Ignored messages",
};

function UsageTable({ usage, nested = false }: { usage: Record<string, unknown>; nested?: boolean }) {
  const entries = Object.entries(usage).filter(([, v]) => v !== null && v !== undefined && v !== "");
  if (!entries.length) return <p className="muted">No usage reported{nested ? "" : " yet"}.</p>;
  return (
    <dl className={nested ? "kv kv--nested" : "kv"}>
      {entries.map(([key, value]) => (
        // lists and objects take the full width under their label
        <div key={key} className={typeof value === "object" ? "kv__row kv__row--block" : "kv__row"}>
          <dt>{nested ? humanise(key) : (USAGE_LABELS[key] ?? humanise(key))}</dt>
          <dd>
            {key === "duration_seconds" && typeof value === "number" && !nested ? (
              formatDuration(value)
            ) : (
              <UsageValue value={value} />
            )}
          </dd>
        </div>
      ))}
    </dl>
  );
}

async function loadCall(id: string): Promise<{ call: CallDetail; agentName: string | null }> {
  const [call, agents] = await Promise.all([getSession(id), listAgents().catch(() => [])]);
  return { call, agentName: agents.find((a) => a.id === call.agent_id)?.name ?? null };
}

/** `/calls/:id`: one call's transcript, per-turn latency, usage and end reason. */
export function CallPage({ sessionId }: { sessionId: string }) {
  const [result, reload] = useLoad(() => loadCall(sessionId), [sessionId]);
  useTitle("Call");
  const back = (
    <Link to="/calls" className="back-link">
      <span aria-hidden="true">←</span> Call history
    </Link>
  );
  if (result.state === "loading") return <Loading label="Loading call…" />;
  if (result.state === "failed") {
    return (
      <>
        <PageHeader eyebrow={back} title={isNotFound(result.error) ? "Call not found" : "Call"} />
        {isNotFound(result.error) ? <p>This call does not exist or belongs to another organisation.</p> : <LoadFailed error={result.error} onRetry={reload} />}
      </>
    );
  }
  const { call, agentName } = result.data;
  const turns = [...call.turns].sort((a, b) => a.seq - b.seq);
  const handoff = callHandoff(call);
  return (
    <>
      <PageHeader
        eyebrow={back}
        title={
          <span className="title-with-badge">
            Call {formatDateTime(call.started_at ?? call.created_at)}
            <Badge tone={statusTone(call.status)}>{statusLabel(call.status)}</Badge>
          </span>
        }
        description={<code className="muted">{call.id}</code>}
        actions={
          <button type="button" className="button button--secondary" onClick={reload}>
            Refresh
          </button>
        }
      />
      <div className="call-layout">
        <section className="card" aria-labelledby="transcript-heading">
          <h2 id="transcript-heading">Transcript</h2>
          {turns.length ? (
            <ol className="transcript">
              {turns.map((t) => (
                <TurnItem key={t.seq} turn={t} />
              ))}
            </ol>
          ) : (
            <p className="muted">No turns recorded{call.status === "ended" ? "." : " yet."}</p>
          )}
        </section>
        <aside className="stack-lg">
          {handoff ? (
            <section className="card card--highlight" aria-labelledby="handoff-heading">
              <h2 id="handoff-heading">Handed over to a person</h2>
              <dl className="kv">
                <div className="kv__row kv__row--block">
                  <dt>Reason</dt>
                  <dd>{handoff.reason || <span className="muted">none given</span>}</dd>
                </div>
                <div className="kv__row kv__row--block">
                  <dt>Summary</dt>
                  <dd>{handoff.summary || <span className="muted">none given</span>}</dd>
                </div>
              </dl>
            </section>
          ) : null}
          <section className="card" aria-labelledby="summary-heading">
            <h2 id="summary-heading">Summary</h2>
            <dl className="kv">
              <div className="kv__row">
                <dt>Agent</dt>
                <dd>
                  {agentName ? <Link to={`/agents/${encodeURIComponent(call.agent_id)}`}>{agentName}</Link> : <code>{call.agent_id}</code>}
                </dd>
              </div>
              <div className="kv__row">
                <dt>Created</dt>
                <dd>{formatDateTime(call.created_at)}</dd>
              </div>
              <div className="kv__row">
                <dt>Started</dt>
                <dd>{formatDateTime(call.started_at)}</dd>
              </div>
              <div className="kv__row">
                <dt>Ended</dt>
                <dd>{formatDateTime(call.ended_at)}</dd>
              </div>
              <div className="kv__row">
                <dt>Duration</dt>
                <dd>{formatDuration(callSeconds(call))}</dd>
              </div>
              <div className="kv__row">
                <dt>End reason</dt>
                <dd>{endReasonLabel(call.end_reason)}</dd>
              </div>
              <div className="kv__row">
                <dt>Room</dt>
                <dd>
                  <code>{call.room_name}</code>
                </dd>
              </div>
            </dl>
          </section>
          <section className="card" aria-labelledby="usage-heading">
            <h2 id="usage-heading">Usage</h2>
            <UsageTable usage={call.usage} />
          </section>
        </aside>
      </div>
    </>
  );
}
