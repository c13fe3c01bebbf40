import { useRef, useState, type FormEvent } from "react";
import { updateAgent, uploadVoice, voiceUrl, type Agent } from "../api";
import { ErrorBanner } from "../components/ErrorBanner";
import { Field } from "../components/Field";
import { focusFirstInvalid, useFormErrors } from "../formErrors";

const MAX_BYTES = 10 * 1024 * 1024;

/** What identifies the stored clip (and changes when it does), if the agent has one. */
function storedClip(agent: Agent): string | null {
  return agent.voice_id ?? agent.reference_audio_sha256 ?? null;
}
const ACCEPT = ".wav,.mp3,.ogg,.oga,.opus,.flac,.webm,audio/wav,audio/mpeg,audio/ogg,audio/flac,audio/webm";
const UPLOAD_FIELDS = ["file"] as const;
const URL_FIELDS = ["reference_audio_url"] as const;

/** The reference voice: an uploaded clip (with a player) or a URL the voice engine fetches. */
export function VoiceSection({ agent, onChange }: { agent: Agent; onChange: (agent: Agent) => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [uploading, setUploading] = useState(false);
  const [uploadNotice, setUploadNotice] = useState("");
  const upload = useFormErrors(UPLOAD_FIELDS);
  const fileRef = useRef<HTMLInputElement>(null);
  const uploadRef = useRef<HTMLFormElement>(null);

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

  const submitUpload = async (event: FormEvent) => {
    event.preventDefault();
    upload.clear();
    setUploadNotice("");
    if (!file) {
      upload.setField("file", "Choose an audio file first");
      requestAnimationFrame(() => focusFirstInvalid(uploadRef.current));
      return;
    }
    if (file.size > MAX_BYTES) {
      upload.setField("file", "The clip is larger than 10 MB");
      requestAnimationFrame(() => focusFirstInvalid(uploadRef.current));
      return;
    }
    setUploading(true);
    try {
      const saved = await uploadVoice(agent.id, file, file.name);
      setFile(null);
      if (fileRef.current) fileRef.current.value = "";
      setUploadNotice("Reference clip uploaded.");
      onChange(saved);
    } catch (error) {
      upload.fail(error);
      requestAnimationFrame(() => focusFirstInvalid(uploadRef.current));
    } finally {
      setUploading(false);
    }
  };

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
        A short, clean recording of one speaker that voice-cloning engines imitate. Upload a clip, or give a URL to
        fetch it from.
      </p>

      <div className="voice-player">
        <h3 className="h4">Stored clip</h3>
        {storedClip(agent) ? (
          <audio controls preload="metadata" src={voiceUrl(agent.id, storedClip(agent))}>
            <a href={voiceUrl(agent.id, storedClip(agent))}>Download the reference clip</a>
          </audio>
        ) : (
          <p className="muted">No clip uploaded yet.</p>
        )}
      </div>

      <form ref={uploadRef} className="inline-form" onSubmit={(e) => void submitUpload(e)} noValidate>
        <Field label="Reference clip" error={upload.errors.fields["file"]} hint="WAV, MP3, OGG, FLAC or WebM; 3 to 60 seconds, up to 10 MB. Replaces the reference URL.">
          {(p) => (
            <input
              {...p}
              ref={fileRef}
              type="file"
              accept={ACCEPT}
              onChange={(e) => {
                setFile(e.target.files?.[0] ?? null);
                upload.clearField("file");
                setUploadNotice("");
              }}
            />
          )}
        </Field>
        <button type="submit" className="button button--secondary" disabled={uploading}>
          {uploading ? "Uploading…" : "Upload clip"}
        </button>
      </form>
      <ErrorBanner message={upload.errors.banner} />
      <p className="notice" role="status">
        {uploadNotice}
      </p>

      <form ref={urlRef} className="inline-form" onSubmit={(e) => void submitUrl(e)} noValidate>
        <Field label="Reference audio URL" error={urlErrors.errors.fields["reference_audio_url"]} hint="http(s) URL, fetched and checked when you update it; leave it empty and update to remove it.">
          {(p) => (
            <input
              {...p}
              type="url"
              inputMode="url"
              placeholder="https://example.com/voice.wav"
              value={url}
              maxLength={2048}
              onChange={(e) => {
                setUrl(e.target.value);
                urlErrors.clearField("reference_audio_url");
                setUrlNotice("");
              }}
            />
          )}
        </Field>
        <button type="submit" className="button button--secondary" disabled={savingUrl}>
          {savingUrl ? "Updating…" : "Update voice URL"}
        </button>
      </form>
      <ErrorBanner message={urlErrors.errors.banner} />
      <p className="notice" role="status">
        {urlNotice}
      </p>
    </div>
  );
}
