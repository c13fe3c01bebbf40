import { VoiceCallPanel } from "@vocable/react";
import "@vocable/react/styles.css";
import { useCallback, useState } from "react";
import { createTestSession, type Agent } from "../api";
import { CheckboxField } from "../components/Field";

/**
 * A real call with the agent from the dashboard, through the same component a customer
 * page would use. The session comes from the dashboard-only test-session endpoint.
 */
export function TryItPanel({ agent }: { agent: Agent }) {
  const [textOnly, setTextOnly] = useState(false);
  const getSession = useCallback(
    () => createTestSession(agent.id, textOnly ? { text_only: true } : {}).then((envelope) => envelope.data),
    [agent.id, textOnly],
  );

  if (!agent.active) {
    return <p className="muted">This agent is inactive. Tick “Active” and save to try it.</p>;
  }
  return (
    <div className="stack">
      <p className="muted">Talk to the saved version of this agent. Save your changes first; the call uses your microphone.</p>
      <CheckboxField
        label="Text only"
        checked={textOnly}
        onChange={setTextOnly}
        hint="Chat without audio: no microphone, no speech."
      />
      <VoiceCallPanel key={textOnly ? "text" : "voice"} getSession={getSession} microphone={!textOnly} />
    </div>
  );
}
