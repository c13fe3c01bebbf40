import type { CallRecord } from "../api";
import { callSeconds, endReasonLabel, statusLabel } from "../calls";
import { formatDateTime, formatDuration } from "../format";
import { Link } from "../router";
import { Badge, statusTone } from "./Badge";

interface CallTableProps {
  calls: CallRecord[];
  /** Agent names by id; unknown ids (e.g. deleted agents) show the id. */
  agentNames: Record<string, string>;
  showAgent?: boolean;
  caption: string;
}

export function CallTable({ calls, agentNames, showAgent = true, caption }: CallTableProps) {
  return (
    <div className="table-wrap">
      <table className="table">
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Started</th>
            {showAgent ? <th scope="col">Agent</th> : null}
            <th scope="col">Status</th>
            <th scope="col" className="cell--num">
              Duration
            </th>
            <th scope="col">End reason</th>
          </tr>
        </thead>
        <tbody>
          {calls.map((call) => {
            const when = call.started_at ?? call.created_at;
            const name = agentNames[call.agent_id];
            return (
              <tr key={call.id}>
                <th scope="row">
                  <Link to={`/calls/${encodeURIComponent(call.id)}`}>
                    <time dateTime={when}>{formatDateTime(when)}</time>
                  </Link>
                </th>
                {showAgent ? (
                  <td>
                    {name ? (
                      <Link to={`/agents/${encodeURIComponent(call.agent_id)}`}>{name}</Link>
                    ) : (
                      <code>{call.agent_id}</code>
                    )}
                  </td>
                ) : null}
                <td>
                  <Badge tone={statusTone(call.status)}>{statusLabel(call.status)}</Badge>
                </td>
                <td className="cell--num">{formatDuration(callSeconds(call))}</td>
                <td>{endReasonLabel(call.end_reason)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
