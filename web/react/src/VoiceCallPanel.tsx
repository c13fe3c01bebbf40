import type { CallOptions, Handoff } from "@vocable/client";
import { useEffect, useMemo, useState, type FormEvent, type ReactNode } from "react";
import { AudioLevelMeter } from "./AudioLevelMeter.js";
import { agentStateLabel, defaultLabels, statusLabel, type VoiceCallLabels } from "./labels.js";
import { useVoiceCall, type VoiceCallCallbacks } from "./useVoiceCall.js";

/** Props of {@link VoiceCallPanel} beyond the call options. */
export interface VoiceCallPanelOwnProps extends VoiceCallCallbacks {
  /** Visible heading and accessible name of the panel; the name defaults to "Voice agent". */
  title?: string;
  /** Extra classes on the root `<section class="vocable-call">`. */
  className?: string;
  /** Overrides of any visible or announced string. */
  labels?: Partial<VoiceCallLabels>;
  /** Start the call on mount instead of waiting for "Start call". */
  autoStart?: boolean;
  /**
   * Replaces the handoff notice ("Connecting you with a person…" and the reason) shown
   * once the agent hands the caller over: e.g. a live-chat link or a phone number.
   * Return `null` to show nothing. Use `onHandoff` to act on it as it happens.
   */
  renderHandoff?: (handoff: Handoff) => ReactNode;
}

/**
 * Props of {@link VoiceCallPanel}: the client's call options (`session`, `sessionUrl` +
 * `sessionRequest`, or `getSession`, plus `microphone`, `agentJoinTimeoutMs`, ...) and
 * the panel's own props.
 */
export type VoiceCallPanelProps = CallOptions & VoiceCallPanelOwnProps;

const ACTIVE = new Set(["connecting", "connected", "reconnecting"]);
const LIVE = new Set(["connected", "reconnecting"]);
/** Error codes of the call ending from the agent's side. */
const ENDED_BY_AGENT = new Set(["disconnected", "agent_left"]);

/**
 * A complete call UI: status, Start/End, microphone toggle, level meters, the
 * conversation and a text box. Unstyled apart from class names; import
 * `@vocable/react/styles.css` for the default look.
 */
export function VoiceCallPanel(props: VoiceCallPanelProps) {
  const { title, className, labels: overrides, autoStart = false, renderHandoff, ...options } = props;
  const labels = useMemo<VoiceCallLabels>(() => ({ ...defaultLabels, ...overrides }), [overrides]);
  const call = useVoiceCall(options);
  const { state, start } = call;
  const [draft, setDraft] = useState("");

  useEffect(() => {
    if (autoStart) void start();
  }, [autoStart, start]);

  const active = ACTIVE.has(state);
  const live = LIVE.has(state);
  const agentText = agentStateLabel(labels, call.agentState);
  const handoff = call.handoff;
  // After a handoff the agent ends the call: that is what the notice says, not an error.
  const error = handoff && call.error && ENDED_BY_AGENT.has(call.error.code) ? null : call.error;

  const onSubmit = (event: FormEvent<HTMLFormElement>): void => {
    event.preventDefault();
    if (!live || !draft.trim()) return;
    void call.sendText(draft);
    setDraft("");
  };

  return (
    <section
      aria-label={title ?? labels.title}
      className={className ? `vocable-call ${className}` : "vocable-call"}
      data-state={state}
      data-agent-state={call.agentState ?? undefined}
    >
      <header className="vocable-call__header">
        {title ? <h2 className="vocable-call__title">{title}</h2> : null}
        <p className="vocable-call__status" role="status">
          <span className="vocable-call__status-dot" aria-hidden="true" />
          {statusLabel(labels, state)}
        </p>
        {agentText ? <span className="vocable-call__agent-state">{agentText}</span> : null}
      </header>

      <div className="vocable-call__controls">
        {/* One button whose text changes, so keyboard focus survives Start → End. */}
        <button
          type="button"
          className="vocable-call__button vocable-call__primary"
          data-action={active ? "end" : "start"}
          onClick={() => void (active ? call.end() : call.start())}
        >
          {active ? labels.endCall : labels.startCall}
        </button>
        <button
          type="button"
          className="vocable-call__button vocable-call__mic"
          aria-pressed={call.microphoneEnabled}
          disabled={!live}
          onClick={() => void call.setMicrophoneEnabled(!call.microphoneEnabled)}
        >
          {labels.microphone}
        </button>
        <div className="vocable-call__meters">
          <AudioLevelMeter track={call.agentAudioTrack} label={labels.agentLevel} caption={labels.agentCaption} />
          <AudioLevelMeter
            track={call.microphoneEnabled ? call.microphoneTrack : undefined}
            label={labels.microphoneLevel}
            caption={labels.microphoneCaption}
          />
        </div>
      </div>

      {call.voice.fallback ? (
        // Only while it applies, so outside a fallback the connection status stays the one role="status".
        <p className="vocable-call__notice" role="status" data-voice-model={call.voice.voiceModel}>
          {labels.voiceFallback}
        </p>
      ) : null}

      {handoff ? (
        renderHandoff ? (
          renderHandoff(handoff)
        ) : (
          <div className="vocable-call__notice vocable-call__handoff" role="status">
            <p className="vocable-call__handoff-title">{labels.handoff}</p>
            {handoff.reason ? (
              <p className="vocable-call__handoff-reason">
                {labels.handoffReason} {handoff.reason}
              </p>
            ) : null}
          </div>
        )
      ) : null}

      {error ? (
        <p className="vocable-call__error" role="alert">
          {error.message}
        </p>
      ) : null}

      <ol className="vocable-call__messages" role="log" aria-label={labels.conversation} aria-live="polite">
        {call.messages.map((message, index) => (
          // Messages are only ever appended within a call, so the index is a stable key.
          <li key={index} className="vocable-call__message" data-role={message.role} data-source={message.source}>
            {message.text}
          </li>
        ))}
      </ol>
      {call.interim ? (
        <p className="vocable-call__interim" aria-hidden="true">
          {call.interim}
        </p>
      ) : null}

      <form className="vocable-call__composer" onSubmit={onSubmit}>
        <input
          className="vocable-call__input"
          type="text"
          aria-label={labels.message}
          placeholder={labels.messagePlaceholder}
          autoComplete="off"
          maxLength={4000}
          value={draft}
          disabled={!live}
          onChange={(event) => setDraft(event.target.value)}
        />
        <button type="submit" className="vocable-call__button vocable-call__send" disabled={!live}>
          {labels.send}
        </button>
      </form>
    </section>
  );
}

/** The same component under the name the public guide's pages use. */
export const VocableCall = VoiceCallPanel;
