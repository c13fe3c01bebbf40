import { Suspense, lazy, useState, type ReactNode } from "react";
import { deleteAgent, getAgent, listEngines, type Agent } from "../api";
import { AgentCalls } from "../agent/AgentCalls";
import { AgentForm } from "../agent/AgentForm";
import { KnowledgeSection } from "../agent/KnowledgeSection";
import { HttpToolsSection } from "../agent/HttpToolsSection";
import { McpSection } from "../agent/McpSection";
import { VoiceSection } from "../agent/VoiceSection";
import { Badge } from "../components/Badge";
import { ConfirmButton } from "../components/ConfirmButton";
import { CopyButton } from "../components/CopyButton";
import { ErrorBanner } from "../components/ErrorBanner";
import { PageHeader } from "../components/PageHeader";
import { LoadFailed, Loading, isNotFound } from "../components/States";
import { Link, navigate } from "../router";
import { useLoad } from "../useLoad";
import { useTitle } from "../useTitle";

// The call panel brings livekit-client (most of the bundle): load it with the agent page only.
const TryItPanel = lazy(() => import("../agent/TryItPanel").then((m) => ({ default: m.TryItPanel })));

interface Section {
  id: string;
  title: string;
  body: ReactNode;
}

/** A titled card with an anchor, so the section list at the top can link to it. */
function SectionCard({ section }: { section: Section }) {
  return (
    <section className="card" id={section.id} aria-labelledby={`${section.id}-heading`}>
      <h2 id={`${section.id}-heading`}>{section.title}</h2>
      {section.body}
    </section>
  );
}

function SectionNav({ sections }: { sections: Section[] }) {
  return (
    <nav aria-label="Agent sections" className="subnav">
      {sections.map((s) => (
        <a key={s.id} href={`#${s.id}`} className="subnav__link">
          {s.title}
        </a>
      ))}
    </nav>
  );
}

function DangerZone({ agent }: { agent: Agent }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const remove = async () => {
    setBusy(true);
    setError(null);
    try {
      await deleteAgent(agent.id);
      navigate("/agents");
    } catch (e) {
      setError(e instanceof Error ? e.message : "Could not delete the agent");
      setBusy(false);
    }
  };
  return (
    <div className="stack">
      <p className="muted">Sessions for this Agent ID are refused from then on. This cannot be undone.</p>
      <ErrorBanner message={error} />
      <div>
        <ConfirmButton
          label="Delete agent"
          question={`Delete “${agent.name}” for good?`}
          confirmLabel="Yes, delete agent"
          busy={busy}
          onConfirm={remove}
        />
      </div>
    </div>
  );
}

function AgentIdLine({ id }: { id: string }) {
  return (
    <div className="agent-id">
      <span className="agent-id__label">Agent ID</span>
      <code data-testid="agent-id">{id}</code>
      <CopyButton text={id} />
    </div>
  );
}

/** `/agents/new` (agentId `null`) and `/agents/:id`. */
export function AgentPage({ agentId }: { agentId: string | null }) {
  const [engines] = useLoad(listEngines, []);
  const [loaded, reload, setAgent] = useLoad(() => (agentId ? getAgent(agentId) : Promise.resolve(null)), [agentId]);
  const agent = loaded.state === "ready" ? loaded.data : null;
  useTitle(agentId ? (agent?.name ?? "Agent") : "New agent");

  const back = (
    <Link to="/agents" className="back-link">
      <span aria-hidden="true">←</span> Agent list
    </Link>
  );
  if (engines.state === "loading" || loaded.state === "loading") return <Loading label="Loading agent…" />;
  if (loaded.state === "failed") {
    return (
      <>
        <PageHeader eyebrow={back} title={isNotFound(loaded.error) ? "Agent not found" : "Agent"} />
        {isNotFound(loaded.error) ? (
          <p>This agent does not exist or belongs to another organisation.</p>
        ) : (
          <LoadFailed error={loaded.error} onRetry={reload} />
        )}
      </>
    );
  }
  const engineList = engines.state === "ready" ? engines.data : null;
  const engineError = engines.state === "failed" ? <LoadFailed error={engines.error} /> : null;

  if (!agent) {
    return (
      <>
        <PageHeader eyebrow={back} title="New agent" description="Set the basics now; voice, try-it calls and history appear once it exists." />
        {engineError}
        <section className="card card--narrow" aria-labelledby="settings-heading">
          <h2 id="settings-heading">Settings</h2>
          <AgentForm
            agent={null}
            engines={engineList}
            onSaved={(created) => navigate(`/agents/${encodeURIComponent(created.id)}`, { replace: true })}
          />
        </section>
      </>
    );
  }

  const sections: Section[] = [
    { id: "settings", title: "Settings", body: <AgentForm agent={agent} engines={engineList} onSaved={setAgent} /> },
    { id: "voice", title: "Reference voice", body: <VoiceSection agent={agent} onChange={setAgent} /> },
    { id: "knowledge", title: "Knowledge base", body: <KnowledgeSection agentId={agent.id} /> },
    { id: "tools", title: "Tools (MCP servers)", body: <McpSection agentId={agent.id} /> },
    { id: "http-tools", title: "HTTP tools", body: <HttpToolsSection agentId={agent.id} /> },
    { id: "calls", title: "Call history", body: <AgentCalls agentId={agent.id} agentName={agent.name} /> },
    { id: "danger", title: "Delete", body: <DangerZone agent={agent} /> },
  ];

  return (
    <>
      <PageHeader
        eyebrow={back}
        title={
          <span className="title-with-badge">
            {agent.name}
            {agent.active ? <Badge tone="success">Active</Badge> : <Badge>Inactive</Badge>}
          </span>
        }
        description={<AgentIdLine id={agent.id} />}
      />
      {engineError}
      <div className="agent-layout">
        <div className="agent-layout__main stack-lg">
          <SectionNav sections={[...sections, { id: "try-it", title: "Try it", body: null }]} />
          {sections.map((s) => (
            <SectionCard key={s.id} section={s} />
          ))}
        </div>
        <aside className="agent-layout__aside">
          <section className="card" id="try-it" aria-labelledby="try-it-heading">
            <h2 id="try-it-heading">Try it</h2>
            <Suspense fallback={<Loading label="Loading the call panel…" />}>
              <TryItPanel agent={agent} />
            </Suspense>
          </section>
        </aside>
      </div>
    </>
  );
}
