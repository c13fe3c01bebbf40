import { listAgents, listSessions, type Agent, type CallRecord } from "../api";
import { CallTable } from "../components/CallTable";
import { PageHeader } from "../components/PageHeader";
import { Empty, LoadFailed, Loading } from "../components/States";
import { useLoad } from "../useLoad";
import { useTitle } from "../useTitle";

const LIMIT = 50;

async function loadCalls(): Promise<{ calls: CallRecord[]; agents: Agent[] }> {
  const [calls, agents] = await Promise.all([listSessions(LIMIT), listAgents()]);
  return { calls, agents };
}

/** `/calls`: the organisation's latest calls, across agents, newest first. */
export function CallsPage() {
  useTitle("Calls");
  const [result, reload] = useLoad(loadCalls, []);
  return (
    <>
      <PageHeader
        title="Calls"
        description={`The latest ${LIMIT} calls across your agents, newest first. Open one for its transcript and latency.`}
        actions={
          <button type="button" className="button button--secondary" onClick={reload}>
            Refresh
          </button>
        }
      />
      {result.state === "loading" ? <Loading label="Loading calls…" /> : null}
      {result.state === "failed" ? <LoadFailed error={result.error} onRetry={reload} /> : null}
      {result.state === "ready" && result.data.calls.length === 0 ? (
        <Empty title="No calls yet">
          <p className="muted">Start one from an agent's Try it panel, or from your backend with an API key.</p>
        </Empty>
      ) : null}
      {result.state === "ready" && result.data.calls.length > 0 ? (
        <div className="card card--flush">
          <CallTable
            calls={result.data.calls}
            agentNames={Object.fromEntries(result.data.agents.map((a) => [a.id, a.name]))}
            caption="Calls"
          />
        </div>
      ) : null}
    </>
  );
}
