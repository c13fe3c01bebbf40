/**
 * The customer's page: our React call component, with credentials from the customer's own
 * backend route (`/api/voice-agent/session`). The page never sees the API key.
 */
import { VoiceCallPanel } from "@vocable/react";
import "@vocable/react/styles.css";
import { StrictMode, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import "./page.css";

function App() {
  const [agent, setAgent] = useState<string | null>(null);
  useEffect(() => {
    void fetch("/api/voice-agent/config")
      .then((r) => r.json() as Promise<{ agent: string }>)
      .then((c) => setAgent(c.agent));
  }, []);
  return (
    <div className="page">
      <header>
        <h1>Rosa's Bakery</h1>
        <p>Ask us anything: press Start call and talk, or type below.</p>
      </header>
      {agent ? (
        <VoiceCallPanel
          title="Talk to Rosa's Bakery"
          sessionUrl="/api/voice-agent/session"
          sessionRequest={{ agent, language: "en" }}
        />
      ) : (
        <p role="status">Loading…</p>
      )}
    </div>
  );
}

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}
