import { useId, useRef, useState, type FormEvent } from "react";
import { createAgent, updateAgent, type Agent, type Engine, type EngineKind, type Engines } from "../api";
import { ErrorBanner } from "../components/ErrorBanner";
import { CheckboxField, Field, type ControlProps } from "../components/Field";
import { focusFirstInvalid, useFormErrors } from "../formErrors";
import { CallToolsFieldset, ConversationFieldset, OverridesFieldset } from "./SettingsSections";
import {
  AGENT_FIELDS,
  API_FIELD,
  COMMON_LANGUAGES,
  changedFields,
  checkValues,
  newAgentValues,
  toCreate,
  valuesFromAgent,
  type AgentField,
  type AgentValues,
} from "./form";

interface AgentFormProps {
  /** The saved agent, or `null` on /agents/new. */
  agent: Agent | null;
  engines: Engines | null;
  onSaved: (agent: Agent, created: boolean) => void;
}

const ENGINE_LABELS: Record<EngineKind, string> = {
  stt: "Speech-to-text",
  llm: "Language model",
  tts: "Text-to-speech",
  voice: "Voice engine",
};

/** Label of the voice engine option that stores `null`: whatever the deployment is set to use. */
const DEPLOYMENT_DEFAULT = "Deployment default";

function EngineSelect({
  control,
  options,
  value,
  onChange,
  defaultLabel,
}: {
  control: ControlProps;
  options: Engine[];
  value: string;
  onChange: (value: string) => void;
  /** Offer `""` (the API's `null`) under this label first. */
  defaultLabel?: string;
}) {
  const known = options.some((o) => o.name === value);
  return (
    <select {...control} value={value} onChange={(e) => onChange(e.target.value)}>
      {defaultLabel === undefined ? null : <option value="">{defaultLabel}</option>}
      {known || !value ? null : <option value={value}>{value}</option>}
      {options.map((o) => (
        <option key={o.name} value={o.name}>
          {o.name}
          {o.offline ? "" : " (hosted)"}
        </option>
      ))}
    </select>
  );
}

/** Help under the voice engine select: what the choice does, and what happens if it cannot be used. */
function voiceEngineHint(value: string, selected: Engine | undefined): string | undefined {
  if (!value) return "How the reference voice is applied: this deployment's default engine.";
  if (!selected) return undefined; // a name this deployment no longer offers: the API says why on save
  if (selected.offline) return selected.description;
  return `${selected.description}. If it cannot be used, calls go on in the agent's standard voice.`;
}

/** Create or edit an agent's settings; an edit sends only the changed fields. */
export function AgentForm({ agent, engines, onSaved }: AgentFormProps) {
  const [values, setValues] = useState<AgentValues>(() => (agent ? valuesFromAgent(agent) : newAgentValues(engines)));
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState("");
  const { errors, fail, clear, clearField, show } = useFormErrors(AGENT_FIELDS);
  const formRef = useRef<HTMLFormElement>(null);
  const languagesId = useId();

  // A saved (or reloaded) agent becomes the new baseline. Adjusted during render, not in
  // an effect: an effect can run after the first keystroke and wipe it.
  const [baseline, setBaseline] = useState(agent);
  if (agent !== baseline) {
    setBaseline(agent);
    if (agent) setValues(valuesFromAgent(agent));
  }

  const set = <K extends AgentField>(field: K, value: AgentValues[K]) => {
    setValues((prev) => ({ ...prev, [field]: value }));
    clearField(API_FIELD[field]);
    setNotice("");
  };

  const dirty = agent ? Object.keys(changedFields(agent, values)).length > 0 : true;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    clear();
    setNotice("");
    const problems = checkValues(values);
    if (Object.keys(problems).length) {
      show(problems);
      requestAnimationFrame(() => focusFirstInvalid(formRef.current));
      return;
    }
    const changes = agent ? changedFields(agent, values) : null;
    if (agent && changes && Object.keys(changes).length === 0) {
      setNotice("No changes to save.");
      return;
    }
    setBusy(true);
    try {
      const saved = agent && changes ? await updateAgent(agent.id, changes) : await createAgent(toCreate(values));
      setNotice(agent ? "Saved." : "");
      onSaved(saved, !agent);
    } catch (error) {
      fail(error);
      requestAnimationFrame(() => focusFirstInvalid(formRef.current));
    } finally {
      setBusy(false);
    }
  };

  const fieldError = (field: AgentField) => errors.fields[API_FIELD[field]];
  // an API older than voice engines sends no `voice` list: offer only the default then
  const voiceEngines = engines?.voice ?? [];
  const selectedVoice = voiceEngines.find((o) => o.name === values.voice_model);

  return (
    <form ref={formRef} className="stack" onSubmit={(e) => void submit(e)} noValidate>
      <ErrorBanner message={errors.banner} />
      <fieldset className="fieldset">
        <legend>Basics</legend>
        <Field label="Name" error={fieldError("name")} required>
          {(p) => <input {...p} value={values.name} maxLength={120} onChange={(e) => set("name", e.target.value)} />}
        </Field>
        <Field label="System prompt" error={fieldError("system_prompt")} hint="How the agent behaves. Keep spoken answers short.">
          {(p) => (
            <textarea {...p} rows={7} maxLength={20000} value={values.system_prompt} onChange={(e) => set("system_prompt", e.target.value)} />
          )}
        </Field>
        <Field label="Greeting" error={fieldError("greeting")} hint="Spoken when the caller joins. Leave empty for no greeting.">
          {(p) => <textarea {...p} rows={2} maxLength={2000} value={values.greeting} onChange={(e) => set("greeting", e.target.value)} />}
        </Field>
        <div className="grid-2">
          <Field
            label="Language"
            error={fieldError("language")}
            hint="A BCP-47 tag such as en or es-MX: pick one or type your own. The speech-to-text engine must support it."
            required
          >
            {(p) => (
              <>
                <input
                  {...p}
                  list={languagesId}
                  value={values.language}
                  maxLength={35}
                  autoComplete="off"
                  spellCheck={false}
                  onChange={(e) => set("language", e.target.value)}
                />
                <datalist id={languagesId}>
                  {COMMON_LANGUAGES.map((l) => (
                    <option key={l.tag} value={l.tag}>
                      {l.name}
                    </option>
                  ))}
                </datalist>
              </>
            )}
          </Field>
          <Field label="Max call seconds" error={fieldError("max_call_seconds")} hint="Between 30 and 7200; the call ends after this." required>
            {(p) => (
              <input
                {...p}
                type="number"
                inputMode="numeric"
                min={30}
                max={7200}
                step={1}
                value={values.max_call_seconds}
                onChange={(e) => set("max_call_seconds", e.target.value)}
              />
            )}
          </Field>
          <Field
            label="Time zone"
            error={fieldError("timezone")}
            hint="Where {{system.date}} and {{system.time}} are told, e.g. Europe/Madrid."
          >
            {(p) => <input {...p} value={values.timezone} maxLength={64} spellCheck={false} onChange={(e) => set("timezone", e.target.value)} />}
          </Field>
        </div>
        <Field
          label="Variable defaults"
          error={fieldError("variable_defaults")}
          hint="Write {{name}} in the prompt or greeting; each call fills it from its session's metadata, else from here (name=value, one per line)."
        >
          {(p) => (
            <textarea
              {...p}
              rows={2}
              spellCheck={false}
              placeholder={"customer_name=there\nplan=basic"}
              value={values.variable_defaults}
              onChange={(e) => set("variable_defaults", e.target.value)}
            />
          )}
        </Field>
      </fieldset>

      <fieldset className="fieldset">
        <legend>Engines</legend>
        <div className="grid-3">
          {(["stt", "llm", "tts"] as const).map((kind) => {
            const field = `${kind}_engine` as const;
            const options = engines?.[kind] ?? [];
            const selected = options.find((o) => o.name === values[field]);
            return (
              <Field key={kind} label={ENGINE_LABELS[kind]} error={fieldError(field)} hint={selected?.description}>
                {(p) => <EngineSelect control={p} options={options} value={values[field]} onChange={(v) => set(field, v)} />}
              </Field>
            );
          })}
          <Field label={ENGINE_LABELS.voice} error={fieldError("voice_model")} hint={voiceEngineHint(values.voice_model, selectedVoice)}>
            {(p) => (
              <EngineSelect
                control={p}
                options={voiceEngines}
                value={values.voice_model}
                onChange={(v) => set("voice_model", v)}
                defaultLabel={DEPLOYMENT_DEFAULT}
              />
            )}
          </Field>
        </div>
      </fieldset>

      <ConversationFieldset values={values} set={set} error={fieldError} />
      <CallToolsFieldset values={values} set={set} error={fieldError} />
      <OverridesFieldset values={values} set={set} error={fieldError} />

      <CheckboxField
        label="Active"
        checked={values.active}
        onChange={(checked) => set("active", checked)}
        error={fieldError("active")}
        hint="Inactive agents refuse new sessions, from your backend and from Try it."
      />

      <div className="form-actions">
        <button type="submit" className="button button--primary" disabled={busy}>
          {busy ? "Saving…" : agent ? "Save" : "Create agent"}
        </button>
        <span className="form-actions__status" role="status">
          {notice || (agent && dirty ? "Unsaved changes" : "")}
        </span>
      </div>
    </form>
  );
}
