import { useId } from "react";
import type { OverridableField } from "../api";
import { CheckboxField, Field } from "../components/Field";
import { MAX_END_CALL_PHRASES, OVERRIDABLE, type AgentField, type AgentValues } from "./form";

/** What each section needs from the agent form. */
interface SectionProps {
  values: AgentValues;
  set: <K extends AgentField>(field: K, value: AgentValues[K]) => void;
  error: (field: AgentField) => string | undefined;
}

const FIRST_MESSAGE: { value: AgentValues["first_message"]; label: string; hint: string }[] = [
  { value: "agent", label: "The agent", hint: "It says the greeting as soon as the caller joins." },
  { value: "caller", label: "The caller", hint: "The agent says no greeting and waits for the caller to speak or type." },
];

type NumberValue = "interruption_min_seconds" | "interruption_min_words" | "silence_timeout_seconds" | "silence_reminders" | "temperature" | "max_reply_tokens";

/** A number setting: a decimal keypad where the step is a fraction, else a numeric one. */
function NumberField({
  values,
  set,
  error,
  field,
  label,
  hint,
  min,
  max,
  step,
  disabled = false,
}: SectionProps & { field: NumberValue; label: string; hint: string; min: number; max: number; step: number; disabled?: boolean }) {
  return (
    <Field label={label} error={error(field)} hint={hint}>
      {(p) => (
        <input
          {...p}
          type="number"
          inputMode={Number.isInteger(step) ? "numeric" : "decimal"}
          min={min}
          max={max}
          step={step}
          disabled={disabled}
          value={values[field]}
          onChange={(e) => set(field, e.target.value)}
        />
      )}
    </Field>
  );
}

/** Who speaks first, interruptions, silence, ending the call, temperature and reply length. */
export function ConversationFieldset(section: SectionProps) {
  const { values, set, error } = section;
  const firstId = useId();
  const firstError = error("first_message");
  return (
    <fieldset className="fieldset" id="agent-conversation">
      <legend>Conversation</legend>
      <div
        className={firstError ? "field field--invalid" : "field"}
        role="radiogroup"
        aria-labelledby={`${firstId}-label`}
        aria-describedby={firstError ? `${firstId}-error` : undefined}
      >
        <span className="field__label" id={`${firstId}-label`}>
          Who speaks first
        </span>
        <div className="tool-choices">
          {FIRST_MESSAGE.map((option) => (
            <label key={option.value} className="tool-choice">
              <input
                type="radio"
                name={`${firstId}-first-message`}
                value={option.value}
                checked={values.first_message === option.value}
                onChange={() => set("first_message", option.value)}
              />
              <span>
                {option.label}
                <span className="tool-choice__description">{option.hint}</span>
              </span>
            </label>
          ))}
        </div>
        {firstError ? (
          <p className="field__error" id={`${firstId}-error`}>
            {firstError}
          </p>
        ) : null}
      </div>

      <div className="setting-group">
        <CheckboxField
          label="Callers can interrupt the agent"
          checked={values.interruptions}
          onChange={(on) => set("interruptions", on)}
          error={error("interruptions")}
          hint="Off: the agent finishes what it is saying; what the caller said meanwhile is dropped."
        />
        <div className="grid-2 setting-group__details">
          <NumberField
            {...section}
            field="interruption_min_seconds"
            label="Interrupt after (seconds)"
            hint="How long the caller must talk over the agent: 0.1 to 5."
            min={0.1}
            max={5}
            step={0.1}
            disabled={!values.interruptions}
          />
          <NumberField
            {...section}
            field="interruption_min_words"
            label="Words needed to interrupt"
            hint="0 to 10; 0: speech alone is enough."
            min={0}
            max={10}
            step={1}
            disabled={!values.interruptions}
          />
        </div>
      </div>

      <div className="setting-group">
        <CheckboxField
          label="Remind the caller after a silence"
          checked={values.silence_timeout}
          onChange={(on) => set("silence_timeout", on)}
          hint="After the timeout with nobody speaking the agent says the reminder; after the last reminder and one more timeout it says the goodbye and hangs up. Typing counts as being there."
        />
        <div className="grid-2 setting-group__details">
          <NumberField
            {...section}
            field="silence_timeout_seconds"
            label="Silence timeout (seconds)"
            hint="5 to 600."
            min={5}
            max={600}
            step={1}
            disabled={!values.silence_timeout}
          />
          <NumberField
            {...section}
            field="silence_reminders"
            label="Reminders before hanging up"
            hint="0 to 5."
            min={0}
            max={5}
            step={1}
            disabled={!values.silence_timeout}
          />
        </div>
        <div className="setting-group__details">
          <Field label="Reminder" error={error("silence_reminder")}>
            {(p) => (
              <input
                {...p}
                maxLength={300}
                disabled={!values.silence_timeout}
                value={values.silence_reminder}
                onChange={(e) => set("silence_reminder", e.target.value)}
              />
            )}
          </Field>
        </div>
      </div>

      <Field
        label="End-call phrases"
        error={error("end_call_phrases")}
        hint={`One per line, up to ${MAX_END_CALL_PHRASES}. When the caller says or types one (whole words, any case), the agent says the goodbye and hangs up.`}
      >
        {(p) => (
          <textarea
            {...p}
            rows={3}
            spellCheck={false}
            placeholder={"that is all\nbye for now"}
            value={values.end_call_phrases}
            onChange={(e) => set("end_call_phrases", e.target.value)}
          />
        )}
      </Field>
      <Field label="Goodbye" error={error("goodbye")} hint="Said before the agent hangs up: after a silence, an end-call phrase or its End call tool.">
        {(p) => <input {...p} maxLength={300} value={values.goodbye} onChange={(e) => set("goodbye", e.target.value)} />}
      </Field>
      <div className="grid-2">
        <NumberField
          {...section}
          field="temperature"
          label="Temperature"
          hint="0 to 2: lower is steadier, higher more varied."
          min={0}
          max={2}
          step={0.1}
        />
        <NumberField
          {...section}
          field="max_reply_tokens"
          label="Max reply length (tokens)"
          hint="16 to 1024; 160 tokens is about 45 seconds of speech."
          min={16}
          max={1024}
          step={1}
        />
      </div>
    </fieldset>
  );
}

/** The built-in call tools: end the call, transfer to a human. */
export function CallToolsFieldset({ values, set, error }: SectionProps) {
  return (
    <fieldset className="fieldset" id="agent-call-tools">
      <legend>Built-in tools</legend>
      <p className="muted">Tools the language model can use in any call, with no server of yours.</p>
      <div className="setting-group">
        <CheckboxField
          label="End call"
          checked={values.end_call_enabled}
          onChange={(on) => set("end_call_enabled", on)}
          error={error("end_call_enabled")}
          hint="The agent may hang up once the caller is clearly done; it says the goodbye first."
        />
        <div className="setting-group__details">
          <Field label="When to end the call" error={error("end_call_description")} hint="What the model reads about the tool.">
            {(p) => (
              <textarea
                {...p}
                rows={2}
                maxLength={1000}
                value={values.end_call_description}
                onChange={(e) => set("end_call_description", e.target.value)}
              />
            )}
          </Field>
        </div>
      </div>
      <div className="setting-group">
        <CheckboxField
          label="Transfer to a human"
          checked={values.transfer_enabled}
          onChange={(on) => set("transfer_enabled", on)}
          error={error("transfer_enabled")}
          hint="The agent hands the caller over with a reason and a one-sentence summary: your page gets a handoff event to open a chat or show a number, and the call record keeps both. Then it says the message below and ends the call."
        />
        <div className="setting-group__details">
          <Field label="When to transfer" error={error("transfer_description")} hint="What the model reads about the tool.">
            {(p) => (
              <textarea
                {...p}
                rows={2}
                maxLength={1000}
                value={values.transfer_description}
                onChange={(e) => set("transfer_description", e.target.value)}
              />
            )}
          </Field>
          <Field label="Transfer message" error={error("transfer_message")} hint="Said to the caller before the call ends.">
            {(p) => <input {...p} maxLength={300} value={values.transfer_message} onChange={(e) => set("transfer_message", e.target.value)} />}
          </Field>
        </div>
      </div>
    </fieldset>
  );
}

const OVERRIDE_CHOICES: Record<OverridableField, { label: string; hint: string }> = {
  system_prompt: { label: "System prompt", hint: "A session may replace how the agent behaves." },
  greeting: { label: "Greeting", hint: "A session may change what the agent says first." },
  language: { label: "Language", hint: "A session may pick another language (the speech engines must support it)." },
  voice: { label: "Voice", hint: "A session may bring its own reference voice or voice engine." },
  variables: { label: "Variables", hint: "Session metadata may fill the {{placeholders}} of the prompt and greeting." },
};

/** Which of the agent's settings a backend's session request may change. */
export function OverridesFieldset({ values, set, error }: SectionProps) {
  const problem = error("session_overrides");
  const toggle = (field: OverridableField, on: boolean) =>
    set(
      "session_overrides",
      OVERRIDABLE.filter((o) => (o === field ? on : values.session_overrides.includes(o))),
    );
  return (
    <fieldset className="fieldset" id="agent-session-overrides" aria-describedby={problem ? "session-overrides-error" : undefined}>
      <legend>What a session may override</legend>
      <p className="muted">
        What your backend may change when it creates a session; anything else it sends is refused (403{" "}
        <code>override_not_allowed</code>). The dashboard’s Try it call is not limited.
      </p>
      <div className="tool-choices">
        {OVERRIDABLE.map((field) => (
          <label key={field} className="tool-choice">
            <input type="checkbox" checked={values.session_overrides.includes(field)} onChange={(e) => toggle(field, e.target.checked)} />
            <span>
              {OVERRIDE_CHOICES[field].label}
              <span className="tool-choice__description">{OVERRIDE_CHOICES[field].hint}</span>
            </span>
          </label>
        ))}
      </div>
      {problem ? (
        <p className="field__error" id="session-overrides-error" role="alert">
          {problem}
        </p>
      ) : null}
    </fieldset>
  );
}
