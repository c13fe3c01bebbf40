import { listAgentSessions } from "../api";
import { Empty, LoadFailed, Loading } from "../components/States";
import { CallTable } from "../components/CallTable";
import { useLoad } from "../useLoad";

/** The agent's latest calls. */
export function AgentCalls({ agentId, agentName }: { agentId: string; agentName: string }) {
  const [calls, reload] = useLoad(() => listAgentSessions(agentId, 10), [agentId]);
  if (calls.state === "loading") return <Loading label="Loading calls…" />;
  if (calls.state === "failed") return <LoadFailed error={calls.error} onRetry={reload} />;
  if (!calls.data.length) {
    return (
      <Empty title="No calls yet">
        <p className="muted">Calls started by your backend or with Try it appear here.</p>
      </Empty>
    );
  }
  return <CallTable calls={calls.data} agentNames={{ [agentId]: agentName }} showAgent={false} caption={`Latest calls of ${agentName}`} />;
}
