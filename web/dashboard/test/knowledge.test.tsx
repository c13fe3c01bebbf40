import { act, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { KnowledgeSection } from "../src/agent/KnowledgeSection";
import { POLL_MS, documentErrors } from "../src/agent/knowledge";
import { ApiError } from "../src/api";
import { envelopeError, fakeApi } from "./fakeApi";

const BASE = "/api/agents/agt_123/knowledge";

function doc(overrides: Record<string, unknown> = {}) {
  return {
    id: "doc_1",
    agent_id: "agt_123",
    name: "faq.md",
    kind: "markdown",
    size_bytes: 2048,
    source_url: null,
    status: "ready",
    error: null,
    progress: 100,
    chunk_count: 4,
    created_at: "2025-01-01T10:00:00Z",
    updated_at: "2025-01-01T10:00:00Z",
    indexed_at: "2025-01-01T10:00:05Z",
    ...overrides,
  };
}

function rowsByStatus(): string[] {
  const table = screen.getByRole("table", { name: "Documents" });
  return within(table)
    .getAllByRole("row")
    .slice(1)
    .map((r) => r.getAttribute("data-status") ?? "");
}

afterEach(() => {
  vi.useRealTimers();
});

describe("knowledge base", () => {
  it("lists documents with their status and polls every 2 s until none is pending or processing", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const rounds = [
      [doc({ id: "doc_2", name: "manual.pdf", kind: "pdf", status: "pending", progress: 0, chunk_count: 0, indexed_at: null }), doc()],
      [doc({ id: "doc_2", name: "manual.pdf", kind: "pdf", status: "processing", progress: 40, chunk_count: 0, indexed_at: null }), doc()],
      [
        doc({ id: "doc_2", name: "manual.pdf", kind: "pdf", status: "failed", progress: 40, error: "the PDF is encrypted", indexed_at: null }),
        doc(),
      ],
    ];
    let calls = 0;
    const api = fakeApi({ [`GET ${BASE}`]: () => rounds[Math.min(calls++, rounds.length - 1)] });
    render(<KnowledgeSection agentId="agt_123" />);

    await screen.findByRole("table", { name: "Documents" });
    expect(rowsByStatus()).toEqual(["pending", "ready"]);
    expect(screen.getByText("Queued")).toBeTruthy();
    expect(screen.getByText("Ready")).toBeTruthy();
    expect(screen.getByRole("progressbar", { name: "Indexing manual.pdf" })).toBeTruthy();

    await act(() => vi.advanceTimersByTimeAsync(POLL_MS));
    expect(rowsByStatus()).toEqual(["processing", "ready"]);
    expect((screen.getByRole("progressbar", { name: "Indexing manual.pdf" }) as HTMLProgressElement).value).toBe(40);
    expect(screen.getByText("40%")).toBeTruthy();

    await act(() => vi.advanceTimersByTimeAsync(POLL_MS));
    expect(rowsByStatus()).toEqual(["failed", "ready"]);
    expect(screen.getByText("the PDF is encrypted")).toBeTruthy();
    expect(screen.queryByRole("progressbar")).toBeNull();
    expect(api.find("GET", BASE)).toHaveLength(3);

    // everything is ready or failed: no more requests
    await act(() => vi.advanceTimersByTimeAsync(POLL_MS * 5));
    expect(api.find("GET", BASE)).toHaveLength(3);
  });

  it("does not poll when every document is ready or failed", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const api = fakeApi({ [`GET ${BASE}`]: [doc(), doc({ id: "doc_3", status: "failed", error: "no text found" })] });
    render(<KnowledgeSection agentId="agt_123" />);
    await screen.findByRole("table", { name: "Documents" });
    await act(() => vi.advanceTimersByTimeAsync(POLL_MS * 3));
    expect(api.find("GET", BASE)).toHaveLength(1);
  });

  it("uploads a document and shows a refusal next to the file field", async () => {
    document.cookie = "vocable_csrf=csrf-k";
    let attempt = 0;
    const api = fakeApi({
      [`GET ${BASE}`]: [],
      [`POST ${BASE}`]: () =>
        ++attempt === 1
          ? { status: 415, body: envelopeError("unsupported_type", "This file type is not supported", [{ field: "file", message: "not a PDF, DOCX, HTML, Markdown or text file" }]) }
          : { status: 202, body: doc({ status: "pending", progress: 0, indexed_at: null }) },
    });
    render(<KnowledgeSection agentId="agt_123" />);
    await screen.findByText("No documents yet");
    const input = screen.getByLabelText("Document") as HTMLInputElement;
    expect(input.getAttribute("accept")).toBe(".pdf,.docx,.txt,.md,.html");
    const file = new File(["\x00\x01binary"], "tool.exe", { type: "application/octet-stream" });
    fireEvent.change(input, { target: { files: [file] } });
    fireEvent.click(screen.getByRole("button", { name: "Upload document" }));

    const message = await screen.findByText("not a PDF, DOCX, HTML, Markdown or text file");
    expect(input.getAttribute("aria-invalid")).toBe("true");
    expect(input.getAttribute("aria-describedby")?.split(" ")).toContain(message.id);
    expect(screen.queryByRole("alert")).toBeNull();

    fireEvent.change(input, { target: { files: [new File(["# FAQ"], "faq.md", { type: "text/markdown" })] } });
    expect(input.getAttribute("aria-invalid")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Upload document" }));
    await screen.findByText(/“faq.md” uploaded/);
    expect(rowsByStatus()).toEqual(["pending"]);
    const uploads = api.find("POST", BASE);
    expect((uploads[1]?.body as FormData).get("file")).toBeTruthy();
    expect(uploads[1]?.headers["x-csrf-token"]).toBe("csrf-k");
  });

  it("shows a too-large refusal (no field named) next to the file field too", async () => {
    fakeApi({
      [`GET ${BASE}`]: [],
      [`POST ${BASE}`]: { status: 413, body: envelopeError("too_large", "Document exceeds the 52428800-byte limit") },
    });
    render(<KnowledgeSection agentId="agt_123" />);
    await screen.findByText("No documents yet");
    const input = screen.getByLabelText("Document") as HTMLInputElement;
    fireEvent.change(input, { target: { files: [new File(["x"], "big.pdf")] } });
    fireEvent.click(screen.getByRole("button", { name: "Upload document" }));
    const message = await screen.findByText("Document exceeds the 52428800-byte limit");
    expect(input.getAttribute("aria-describedby")?.split(" ")).toContain(message.id);
  });

  it("shows an outbound refusal of a URL next to the URL field", async () => {
    const api = fakeApi({
      [`GET ${BASE}`]: [],
      [`POST ${BASE}/url`]: {
        status: 422,
        body: envelopeError("private_address", "The URL points to a private or internal address", [
          { field: "url", message: "The URL points to a private or internal address" },
        ]),
      },
    });
    render(<KnowledgeSection agentId="agt_123" />);
    await screen.findByText("No documents yet");
    const input = screen.getByLabelText("Document URL") as HTMLInputElement;
    fireEvent.change(input, { target: { value: "http://10.0.0.5/admin" } });
    fireEvent.click(screen.getByRole("button", { name: "Add URL" }));
    const message = await screen.findByText("The URL points to a private or internal address");
    expect(input.getAttribute("aria-invalid")).toBe("true");
    expect(input.getAttribute("aria-describedby")?.split(" ")).toContain(message.id);
    expect(screen.queryByRole("alert")).toBeNull();
    expect(api.find("POST", `${BASE}/url`)[0]?.body).toEqual({ url: "http://10.0.0.5/admin" });
  });

  it("maps a fetched document's type refusal (named `file`) onto the URL field", () => {
    const error = new ApiError(415, "unsupported_type", "unsupported", [{ field: "file", message: "not a supported document" }]);
    expect(documentErrors(error, "url")).toEqual({ fields: { url: "not a supported document" }, banner: null });
    const outage = new ApiError(503, "unavailable", "Try again shortly");
    expect(documentErrors(outage, "url")).toEqual({ fields: {}, banner: "Try again shortly" });
  });

  it("re-indexes and deletes (after confirmation) a document", async () => {
    const api = fakeApi({
      [`GET ${BASE}`]: [doc()],
      [`POST ${BASE}/doc_1/reindex`]: { status: 202, body: doc({ status: "pending", progress: 0 }) },
      [`DELETE ${BASE}/doc_1`]: { status: 204 },
    });
    render(<KnowledgeSection agentId="agt_123" />);
    await screen.findByRole("table", { name: "Documents" });
    fireEvent.click(screen.getByRole("button", { name: "Re-index faq.md" }));
    await screen.findByText("Queued");
    expect(rowsByStatus()).toEqual(["pending"]);
    fireEvent.click(screen.getByRole("button", { name: "Delete faq.md" }));
    expect(api.find("DELETE", BASE)).toHaveLength(0);
    fireEvent.click(screen.getByRole("button", { name: "Yes, delete" }));
    await screen.findByText("No documents yet");
    expect(api.find("DELETE", `${BASE}/doc_1`)).toHaveLength(1);
  });

  it("runs a test search and shows the passages with source, page, score and time", async () => {
    const api = fakeApi({
      [`GET ${BASE}`]: [doc()],
      [`POST ${BASE}/search`]: {
        results: [
          { text: "We open at 9 am on weekdays.", source: "faq.md", page: null, score: 0.8123, document_id: "doc_1", chunk: 0 },
          { text: "Saturday hours are 10 to 2.", source: "manual.pdf", page: 3, score: 0.61, document_id: "doc_2", chunk: 7 },
        ],
        took_ms: 12.4,
      },
    });
    render(<KnowledgeSection agentId="agt_123" />);
    await screen.findByRole("table", { name: "Documents" });
    fireEvent.change(screen.getByLabelText("Test question"), { target: { value: " When do you open? " } });
    fireEvent.click(screen.getByRole("button", { name: "Search" }));
    const list = await screen.findByRole("list", { name: "Passages" });
    const items = within(list).getAllByRole("listitem");
    expect(items).toHaveLength(2);
    expect(items[0]?.textContent).toContain("We open at 9 am on weekdays.");
    expect(items[0]?.textContent).toContain("faq.md");
    expect(items[0]?.textContent).toContain("score 0.812");
    expect(items[0]?.textContent).not.toContain("page");
    expect(items[1]?.textContent).toContain("manual.pdf");
    expect(items[1]?.textContent).toContain("page 3");
    expect(screen.getByTestId("search-summary").textContent).toBe("2 passages in 12 ms");
    expect(api.find("POST", `${BASE}/search`)[0]?.body).toEqual({ query: "When do you open?", top_k: 5 });
  });

  it("asks for a question before searching", async () => {
    const api = fakeApi({ [`GET ${BASE}`]: [] });
    render(<KnowledgeSection agentId="agt_123" />);
    await screen.findByText("No documents yet");
    fireEvent.click(screen.getByRole("button", { name: "Search" }));
    expect(screen.getByLabelText("Test question").getAttribute("aria-invalid")).toBe("true");
    expect(api.find("POST", `${BASE}/search`)).toHaveLength(0);
  });
});
