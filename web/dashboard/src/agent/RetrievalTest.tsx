import { useRef, useState, type FormEvent } from "react";
import { searchKnowledge, type KnowledgeSearchResult } from "../api";
import { ErrorBanner } from "../components/ErrorBanner";
import { Field } from "../components/Field";
import { focusFirstInvalid, useFormErrors } from "../formErrors";
import { formatMs } from "../format";
import { formatScore } from "./knowledge";

const QUERY_FIELDS = ["query"] as const;
const TOP_K = 5;

/** Ask the knowledge base a question and see the passages the agent would be given. */
export function RetrievalTest({ agentId }: { agentId: string }) {
  const [query, setQuery] = useState("");
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<KnowledgeSearchResult | null>(null);
  const errors = useFormErrors(QUERY_FIELDS);
  const formRef = useRef<HTMLFormElement>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    errors.clear();
    const text = query.trim();
    if (!text) {
      errors.setField("query", "Type a question first");
      requestAnimationFrame(() => focusFirstInvalid(formRef.current));
      return;
    }
    setBusy(true);
    try {
      setResult(await searchKnowledge(agentId, text, TOP_K));
    } catch (error) {
      setResult(null);
      errors.fail(error);
      requestAnimationFrame(() => focusFirstInvalid(formRef.current));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="retrieval stack">
      <h3 className="h4">Test retrieval</h3>
      <form ref={formRef} className="inline-form" onSubmit={(e) => void submit(e)} noValidate>
        <Field label="Test question" error={errors.errors.fields["query"]} hint={`The ${TOP_K} best passages, as the agent would be given them.`}>
          {(p) => (
            <input
              {...p}
              type="search"
              value={query}
              maxLength={2000}
              placeholder="What are your opening hours?"
              onChange={(e) => {
                setQuery(e.target.value);
                errors.clearField("query");
              }}
            />
          )}
        </Field>
        <button type="submit" className="button button--secondary" disabled={busy}>
          {busy ? "Searching…" : "Search"}
        </button>
      </form>
      <ErrorBanner message={errors.errors.banner} />
      {result ? (
        <div className="stack" aria-live="polite">
          <p className="muted" data-testid="search-summary">
            {result.results.length === 1 ? "1 passage" : `${result.results.length} passages`} in {formatMs(result.took_ms)}
          </p>
          {result.results.length ? (
            <ol className="passages" aria-label="Passages">
              {result.results.map((p) => (
                <li key={`${p.document_id}:${p.chunk}`} className="passage">
                  <div className="passage__meta">
                    <span className="passage__source">{p.source}</span>
                    {p.page !== null ? <span>page {p.page}</span> : null}
                    <span>score {formatScore(p.score)}</span>
                  </div>
                  <p className="passage__text">{p.text}</p>
                </li>
              ))}
            </ol>
          ) : (
            <p className="muted">No passage matched. Documents still indexing are not searched yet.</p>
          )}
        </div>
      ) : null}
    </div>
  );
}
