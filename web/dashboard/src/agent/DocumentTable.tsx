import { useState } from "react";
import { deleteDocument, reindexDocument, type KnowledgeDocument } from "../api";
import { Badge } from "../components/Badge";
import { ConfirmButton } from "../components/ConfirmButton";
import { formatDateTime } from "../format";
import { DOCUMENT_STATUS_LABELS, documentStatusTone, formatBytes, isIngesting } from "./knowledge";

interface DocumentTableProps {
  agentId: string;
  documents: KnowledgeDocument[];
  /** A document the API answered with (re-index), or `null` with its id when it was deleted. */
  onChange: (id: string, document: KnowledgeDocument | null) => void;
  onError: (message: string) => void;
}

function DocumentStatusCell({ document }: { document: KnowledgeDocument }) {
  const progress = Math.max(0, Math.min(100, Math.round(document.progress)));
  return (
    <div className="doc-status">
      <Badge tone={documentStatusTone(document.status)}>{DOCUMENT_STATUS_LABELS[document.status]}</Badge>
      {isIngesting(document.status) ? (
        <span className="doc-status__progress">
          <progress max={100} value={progress} aria-label={`Indexing ${document.name}`} />
          <span className="muted">{progress}%</span>
        </span>
      ) : null}
      {document.status === "failed" && document.error ? <p className="doc-status__error">{document.error}</p> : null}
    </div>
  );
}

function DocumentRow({ agentId, document, onChange, onError }: Omit<DocumentTableProps, "documents"> & { document: KnowledgeDocument }) {
  const [busy, setBusy] = useState<"reindex" | "delete" | null>(null);
  const reindex = async () => {
    setBusy("reindex");
    try {
      onChange(document.id, await reindexDocument(agentId, document.id));
    } catch (e) {
      onError(e instanceof Error ? e.message : "Could not re-index the document");
    } finally {
      setBusy(null);
    }
  };
  const remove = async () => {
    setBusy("delete");
    try {
      await deleteDocument(agentId, document.id);
      onChange(document.id, null);
    } catch (e) {
      onError(e instanceof Error ? e.message : "Could not delete the document");
      setBusy(null);
    }
  };
  return (
    <tr data-status={document.status}>
      <th scope="row">
        <span className="doc-name">{document.name}</span>
        <span className="doc-meta muted">
          {document.kind} · {formatBytes(document.size_bytes)}
          {document.source_url ? (
            <>
              {" · "}
              <a href={document.source_url} target="_blank" rel="noreferrer noopener">
                source
              </a>
            </>
          ) : null}
        </span>
      </th>
      <td>
        <DocumentStatusCell document={document} />
      </td>
      <td className="cell--num">{document.status === "ready" ? document.chunk_count : "—"}</td>
      <td>
        <time dateTime={document.indexed_at ?? document.created_at}>{formatDateTime(document.indexed_at ?? document.created_at)}</time>
      </td>
      <td className="cell--actions">
        <span className="row-actions">
          <button
            type="button"
            className="button button--secondary button--small"
            disabled={busy !== null || isIngesting(document.status)}
            aria-label={`Re-index ${document.name}`}
            onClick={() => void reindex()}
          >
            {busy === "reindex" ? "Re-indexing…" : "Re-index"}
          </button>
          <ConfirmButton
            label="Delete"
            ariaLabel={`Delete ${document.name}`}
            question={`Delete “${document.name}”?`}
            confirmLabel="Yes, delete"
            busy={busy === "delete"}
            className="button button--danger-quiet button--small"
            onConfirm={remove}
          />
        </span>
      </td>
    </tr>
  );
}

/** The agent's documents with their ingestion status, re-index and delete. */
export function DocumentTable(props: DocumentTableProps) {
  return (
    <div className="table-wrap">
      <table className="table">
        <caption className="visually-hidden">Documents</caption>
        <thead>
          <tr>
            <th scope="col">Document</th>
            <th scope="col">Status</th>
            <th scope="col" className="cell--num">
              Chunks
            </th>
            <th scope="col">Indexed / added</th>
            <th scope="col" className="cell--actions">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {props.documents.map((d) => (
            <DocumentRow key={d.id} agentId={props.agentId} document={d} onChange={props.onChange} onError={props.onError} />
          ))}
        </tbody>
      </table>
    </div>
  );
}
