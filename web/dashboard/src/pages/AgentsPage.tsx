import { listAgents } from "../api";
import { Badge } from "../components/Badge";
import { CopyButton } from "../components/CopyButton";
import { PageHeader } from "../components/PageHeader";
import { Empty, LoadFailed, Loading } from "../components/States";
import { formatDateTime } from "../format";
import { Link } from "../router";
import { useLoad } from "../useLoad";
import { useTitle } from "../useTitle";

export function AgentsPage() {
  useTitle("Agents");
  const [agents, reload] = useLoad(listAgents, []);
  return (
    <>
      <PageHeader
        title="Agents"
        description="Each agent has its own prompt, greeting, language, engines and voice. Your backend starts a call with its Agent ID."
        actions={
          <Link to="/agents/new" className="button button--primary">
            New agent
          </Link>
        }
      />
      {agents.state === "loading" ? <Loading label="Loading agents…" /> : null}
      {agents.state === "failed" ? <LoadFailed error={agents.error} onRetry={reload} /> : null}
      {agents.state === "ready" && agents.data.length === 0 ? (
        <Empty title="No agents yet">
          <p className="muted">Create your first agent, then try it right here in the dashboard.</p>
          <Link to="/agents/new" className="button button--primary">
            New agent
          </Link>
        </Empty>
      ) : null}
      {agents.state === "ready" && agents.data.length > 0 ? (
        <div className="card card--flush">
          <div className="table-wrap">
            <table className="table">
              <caption className="visually-hidden">Agents</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Language</th>
                  <th scope="col">Status</th>
                  <th scope="col">Agent ID</th>
                  <th scope="col">Updated</th>
                </tr>
              </thead>
              <tbody>
                {agents.data.map((agent) => (
                  <tr key={agent.id}>
                    <th scope="row">
                      <Link to={`/agents/${encodeURIComponent(agent.id)}`}>{agent.name}</Link>
                    </th>
                    <td>
                      <code>{agent.language}</code>
                    </td>
                    <td>{agent.active ? <Badge tone="success">Active</Badge> : <Badge>Inactive</Badge>}</td>
                    <td>
                      <span className="id-cell">
                        <code>{agent.id}</code>
                        <CopyButton text={agent.id} ariaLabel={`Copy Agent ID of ${agent.name}`} className="button button--ghost button--small" />
                      </span>
                    </td>
                    <td>
                      <time dateTime={agent.updated_at}>{formatDateTime(agent.updated_at)}</time>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      ) : null}
    </>
  );
}
