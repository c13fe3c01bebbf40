import { useEffect, useRef, useState, type FormEvent } from "react";
import { addDocumentUrl, listDocuments, uploadDocument, type KnowledgeDocument } from "../api";
import { ErrorBanner } from "../components/ErrorBanner";
import { Empty, LoadFailed, Loading } from "../components/States";
import { UploadField } from "../components/UploadField";
import { UrlField } from "../components/UrlField";
import { focusFirstInvalid, useFormErrors } from "../formErrors";
import { useLoad } from "../useLoad";
import { DocumentTable } from "./DocumentTable";
import { DOCUMENT_ACCEPT, POLL_MS, anyIngesting, documentErrors } from "./knowledge";
import { RetrievalTest } from "./RetrievalTest";

const URL_FIELDS = ["url"] as const;

/** Newest first, the API's order; an added document goes on top. */
function upsert(list: KnowledgeDocument[], doc: KnowledgeDocument): KnowledgeDocument[] {
  return list.some((d) => d.id === doc.id) ? list.map((d) => (d.id === doc.id ? doc : d)) : [doc, ...list];
}

function UploadForm({ agentId, onAdded }: { agentId: string; onAdded: (doc: KnowledgeDocument) => void }) {
  return (
    <div>
      <UploadField
        label="Document"
        hint="PDF, DOCX, HTML, Markdown or plain text, up to 50 MB."
        accept={DOCUMENT_ACCEPT}
        submitLabel="Upload document"
        missingFile="Choose a document first"
        upload={(file) => uploadDocument(agentId, file, file.name)}
        uploadedNotice={(doc) => `“${doc.name}” uploaded; indexing starts shortly.`}
        onUploaded={onAdded}
        errorsOf={(error) => documentErrors(error, "file")}
      />
    </div>
  );
}

function UrlForm({ agentId, onAdded }: { agentId: string; onAdded: (doc: KnowledgeDocument) => void }) {
  const [url, setUrl] = useState("");
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState("");
  const errors = useFormErrors(URL_FIELDS);
  const formRef = useRef<HTMLFormElement>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    errors.clear();
    setNotice("");
    const value = url.trim();
    if (!/^https?:\/\/\S+$/i.test(value)) {
      errors.setField("url", "Enter an http(s) URL");
      requestAnimationFrame(() => focusFirstInvalid(formRef.current));
      return;
    }
    setBusy(true);
    try {
      const doc = await addDocumentUrl(agentId, value);
      setUrl("");
      setNotice(`“${doc.name}” fetched; indexing starts shortly.`);
      onAdded(doc);
    } catch (error) {
      errors.set(documentErrors(error, "url"));
      requestAnimationFrame(() => focusFirstInvalid(formRef.current));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div>
      <UrlField
        formRef={formRef}
        label="Document URL"
        hint="A public page or document, fetched once when you add it. The query string is not stored."
        placeholder="https://example.com/faq"
        value={url}
        onChange={(value) => {
          setUrl(value);
          errors.clearField("url");
          setNotice("");
        }}
        onSubmit={(e) => void submit(e)}
        submitLabel="Add URL"
        busyLabel="Fetching…"
        busy={busy}
        error={errors.errors.fields["url"]}
        banner={errors.errors.banner}
        notice={notice}
      />
    </div>
  );
}

/** The agent's knowledge base: add documents, follow their indexing, test retrieval. */
export function KnowledgeSection({ agentId }: { agentId: string }) {
  const [docs, reload, replace] = useLoad(() => listDocuments(agentId), [agentId]);
  const [actionError, setActionError] = useState<string | null>(null);
  const [pollError, setPollError] = useState<string | null>(null);
  const [pollRound, setPollRound] = useState(0);
  const list = docs.state === "ready" ? docs.data : null;
  const ingesting = list !== null && anyIngesting(list);

  // while a document is queued or indexing, refresh the list every POLL_MS; a failed
  // refresh is retried on the same beat
  useEffect(() => {
    if (!ingesting) return;
    let live = true;
    const timer = window.setTimeout(() => {
      listDocuments(agentId).then(
        (next) => {
          if (!live) return;
          setPollError(null);
          replace(next);
        },
        (error: unknown) => {
          if (!live) return;
          setPollError(error instanceof Error ? error.message : "Could not refresh the documents");
          setPollRound((n) => n + 1);
        },
      );
    }, POLL_MS);
    return () => {
      live = false;
      window.clearTimeout(timer);
    };
  }, [agentId, ingesting, list, pollRound, replace]);

  const added = (doc: KnowledgeDocument) => replace(upsert(list ?? [], doc));
  const changed = (id: string, doc: KnowledgeDocument | null) => {
    setActionError(null);
    const current = list ?? [];
    replace(doc ? upsert(current, doc) : current.filter((d) => d.id !== id));
  };

  return (
    <div className="stack-lg">
      <p className="muted">
        Documents the agent searches on every turn. Passages that match what the caller says are given to the language model
        with the system prompt.
      </p>
      <div className="stack">
        <UploadForm agentId={agentId} onAdded={added} />
        <UrlForm agentId={agentId} onAdded={added} />
      </div>

      <div>
        <h3 className="h4">Documents</h3>
        {docs.state === "loading" ? <Loading label="Loading documents…" /> : null}
        {docs.state === "failed" ? <LoadFailed error={docs.error} onRetry={reload} /> : null}
        {list && !list.length ? (
          <Empty title="No documents yet">
            <p className="muted">Upload a file or add a URL; indexing runs in the background.</p>
          </Empty>
        ) : null}
        {list && list.length ? <DocumentTable agentId={agentId} documents={list} onChange={changed} onError={setActionError} /> : null}
        <ErrorBanner message={actionError} onDismiss={() => setActionError(null)} />
        {pollError ? <p className="notice">Could not refresh the list ({pollError}); retrying…</p> : null}
      </div>

      <RetrievalTest agentId={agentId} />
    </div>
  );
}
