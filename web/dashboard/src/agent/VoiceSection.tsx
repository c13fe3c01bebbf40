import { useRef, useState, type FormEvent } from "react";
import { listVoices, updateAgent, uploadVoice, voiceUrl, type Agent, type Voice } from "../api";
import { ErrorBanner } from "../components/ErrorBanner";
import { Field } from "../components/Field";
import { LoadFailed } from "../components/States";
import { UploadField } from "../components/UploadField";
import { UrlField } from "../components/UrlField";
import { focusFirstInvalid, useFormErrors } from "../formErrors";
import { formatDateTime } from "../format";
import { useSession } from "../session";
import { useLoad } from "../useLoad";
import { formatSeconds, provenance, voiceOptionLabel } from "./voices";

const MAX_BYTES = 10 * 1024 * 1024;

/** What identifies the stored clip (and changes when it does), if the agent has one. */
function storedClip(agent: Agent): string | null {
  return agent.voice_id ?? agent.reference_audio_sha256 ?? null;
}
const ACCEPT = ".wav,.mp3,.ogg,.oga,.opus,.flac,.webm,audio/wav,audio/mpeg,audio/ogg,audio/flac,audio/webm";
const URL_FIELDS = ["reference_audio_url"] as const;
const PICK_FIELDS = ["voice_id"] as const;

/** Link one of the organisation's stored voices to the agent. */
function VoicePicker({ agent, voices, onChange }: { agent: Agent; voices: Voice[]; onChange: (agent: Agent) => void }) {
  const [choice, setChoice] = useState(agent.voice_id ?? "");
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState("");
  const errors = useFormErrors(PICK_FIELDS);
  const formRef = useRef<HTMLFormElement>(null);
  // follow the agent's voice when it changes elsewhere (an upload, a URL)
  const [linked, setLinked] = useState(agent.voice_id ?? "");
  if ((agent.voice_id ?? "") !== linked) {
    setLinked(agent.voice_id ?? "");
    setChoice(agent.voice_id ?? "");
  }

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    errors.clear();
    setNotice("");
    if (!choice) {
      errors.setField("voice_id", "Choose a voice first");
      requestAnimationFrame(() => focusFirstInvalid(formRef.current));
      return;
    }
    if (choice === agent.voice_id) {
      setNotice("This voice is already the agent's.");
      return;
    }
    setBusy(true);
    try {
      onChange(await updateAgent(agent.id, { voice_id: choice }));
      setNotice("Voice linked.");
    } catch (error) {
      errors.fail(error);
      requestAnimationFrame(() => focusFirstInvalid(formRef.current));
    } finally {
      setBusy(false);
    }
  };

  if (!voices.length) return null;
  return (
    <div>
      <form ref={formRef} className="inline-form" onSubmit={(e) => void submit(e)} noValidate>
        <Field label="Organisation voice" error={errors.errors.fields["voice_id"]} hint="Reuse a clip already uploaded or fetched for this organisation, newest first.">
          {(p) => (
            <select
              {...p}
              value={choice}
              onChange={(e) => {
                setChoice(e.target.value);
                errors.clearField("voice_id");
                setNotice("");
              }}
            >
              <option value="">Choose a voice…</option>
              {voices.map((v) => (
                <option key={v.id} value={v.id}>
                  {voiceOptionLabel(v)}
                  {v.id === agent.voice_id ? " (current)" : ""}
                </option>
              ))}
            </select>
          )}
        </Field>
        <button type="submit" className="button button--secondary" disabled={busy}>
          {busy ? "Linking…" : "Use this voice"}
        </button>
      </form>
      <ErrorBanner message={errors.errors.banner} />
      <p className="notice" role="status">
        {notice}
      </p>
    </div>
  );
}

/** The reference voice: an uploaded clip, a fetched URL or an existing voice, with a player. */
export function VoiceSection({ agent, onChange }: { agent: Agent; onChange: (agent: Agent) => void }) {
  const { user } = useSession();
  // an upload or a new URL adds a voice: reload the list when the agent's voice changes
  const [voices, reloadVoices] = useLoad(listVoices, [agent.voice_id]);
  const voiceList = voices.state === "ready" ? voices.data : [];
  const stored = agent.voice_id ? voiceList.find((v) => v.id === agent.voice_id) : undefined;

  const [url, setUrl] = useState(agent.reference_audio_url ?? "");
  const [savingUrl, setSavingUrl] = useState(false);
  const [urlNotice, setUrlNotice] = useState("");
  const urlErrors = useFormErrors(URL_FIELDS);
  const urlRef = useRef<HTMLFormElement>(null);

  // follow the saved URL when it changes (during render, so no keystroke is lost to an effect)
  const [savedUrl, setSavedUrl] = useState(agent.reference_audio_url);
  if (agent.reference_audio_url !== savedUrl) {
    setSavedUrl(agent.reference_audio_url);
    setUrl(agent.reference_audio_url ?? "");
  }

  const submitUrl = async (event: FormEvent) => {
    event.preventDefault();
    urlErrors.clear();
    setUrlNotice("");
    const next = url.trim() || null;
    if (next === agent.reference_audio_url) {
      setUrlNotice("No changes to save.");
      return;
    }
    setSavingUrl(true);
    try {
      onChange(await updateAgent(agent.id, { reference_audio_url: next }));
      setUrlNotice(next ? "Voice URL saved." : "Voice URL removed.");
    } catch (error) {
      urlErrors.fail(error);
      requestAnimationFrame(() => focusFirstInvalid(urlRef.current));
    } finally {
      setSavingUrl(false);
    }
  };

  return (
    <div className="stack">
      <p className="muted">
        A short, clean recording of one speaker that voice-cloning engines imitate. Upload a clip, give a URL to fetch it
        from (fetched and checked when you save it), or reuse one of your organisation's voices.
      </p>

      <div className="voice-player">
        <h3 className="h4">Stored clip</h3>
        {stored ? (
          <p className="voice-provenance" data-testid="voice-provenance">
            <strong>{stored.name}</strong> · {formatSeconds(stored.duration_seconds)} ·{" "}
            <span title={formatDateTime(stored.created_at)}>{provenance(stored, user.id)}</span>
          </p>
        ) : null}
        {storedClip(agent) ? (
          <audio controls preload="metadata" src={voiceUrl(agent.id, storedClip(agent))}>
            <a href={voiceUrl(agent.id, storedClip(agent))}>Download the reference clip</a>
          </audio>
        ) : (
          <p className="muted">No clip uploaded yet.</p>
        )}
      </div>

      <UploadField
        label="Reference clip"
        hint="WAV, MP3, OGG, FLAC or WebM; 3 to 60 seconds, up to 10 MB. Replaces the reference URL."
        accept={ACCEPT}
        submitLabel="Upload clip"
        missingFile="Choose an audio file first"
        validate={(file) => (file.size > MAX_BYTES ? "The clip is larger than 10 MB" : undefined)}
        upload={(file) => uploadVoice(agent.id, file, file.name)}
        uploadedNotice={() => "Reference clip uploaded."}
        onUploaded={onChange}
      />

      <UrlField
        formRef={urlRef}
        label="Reference audio URL"
        hint="http(s) URL of a WAV, MP3, OGG, FLAC or WebM clip, fetched and checked when you save it (a refused URL leaves the voice as it was); leave it empty and update to remove it."
        placeholder="https://example.com/voice.wav"
        value={url}
        onChange={(value) => {
          setUrl(value);
          urlErrors.clearField("reference_audio_url");
          setUrlNotice("");
        }}
        onSubmit={(e) => void submitUrl(e)}
        submitLabel="Update voice URL"
        busyLabel="Updating…"
        busy={savingUrl}
        error={urlErrors.errors.fields["reference_audio_url"]}
        banner={urlErrors.errors.banner}
        notice={urlNotice}
      />

      {voices.state === "failed" ? <LoadFailed error={voices.error} onRetry={reloadVoices} /> : <VoicePicker agent={agent} voices={voiceList} onChange={onChange} />}
    </div>
  );
}
