import { fireEvent, render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { McpSection } from "../src/agent/McpSection";
import { parseToolNames, toUpdate, valuesFromServer } from "../src/agent/mcp";
import type { McpServer } from "../src/api";
import { envelopeError, fakeApi, type Received } from "./fakeApi";

const BASE = "/api/agents/agt_123/mcp-servers";
const SECRET = "Bearer sk-live-0123456789";

function server(overrides: Partial<McpServer> = {}): McpServer {
  return {
    id: "mcp_1",
    agent_id: "agt_123",
    name: "Bookings",
    url: "https://mcp.example.com/mcp",
    transport: "streamable_http",
    headers: {},
    timeout_seconds: 12,
    active: true,
    allowed_tools: [],
    created_at: "2025-01-01T10:00:00Z",
    updated_at: "2025-01-01T10:00:00Z",
    ...overrides,
  };
}

/** What the API answers a create with: header values masked. */
function created(req: Received) {
  const body = req.body as Record<string, unknown>;
  const headers = Object.fromEntries(Object.keys((body["headers"] as Record<string, string>) ?? {}).map((k) => [k, "••••"]));
  return { status: 201, body: server({ ...(body as Partial<McpServer>), headers, id: "mcp_9" }) };
}

function fillNewServer(values: { name: string; url: string }) {
  fireEvent.click(screen.getByRole("button", { name: "Add MCP server" }));
  fireEvent.change(screen.getByLabelText("Server name"), { target: { value: values.name } });
  fireEvent.change(screen.getByLabelText("Server URL"), { target: { value: values.url } });
}

describe("MCP servers", () => {
  it("shows an API refusal of the URL next to the Server URL field", async () => {
    const api = fakeApi({
      [`GET ${BASE}`]: [],
      [`POST ${BASE}`]: {
        status: 422,
        body: envelopeError("private_address", "The URL points to a private or internal address", [
          { field: "url", message: "The URL points to a private or internal address" },
        ]),
      },
    });
    render(<McpSection agentId="agt_123" />);
    await screen.findByText("No MCP servers yet");
    fillNewServer({ name: "Internal", url: "http://127.0.0.1:9000/mcp" });
    fireEvent.click(screen.getByRole("button", { name: "Add server" }));
    const message = await screen.findByText("The URL points to a private or internal address");
    const url = screen.getByLabelText("Server URL");
    expect(url.getAttribute("aria-invalid")).toBe("true");
    expect(url.getAttribute("aria-describedby")?.split(" ")).toContain(message.id);
    expect(screen.getByLabelText("Server name").getAttribute("aria-invalid")).toBeNull();
    expect(screen.queryByRole("alert")).toBeNull();
    expect(api.find("POST", BASE)[0]?.body).toEqual({
      name: "Internal",
      url: "http://127.0.0.1:9000/mcp",
      transport: "streamable_http",
      timeout_seconds: 12,
      active: true,
      allowed_tools: [],
      headers: {},
    });
  });

  it("checks the timeout range before calling the API", async () => {
    const api = fakeApi({ [`GET ${BASE}`]: [] });
    render(<McpSection agentId="agt_123" />);
    await screen.findByText("No MCP servers yet");
    fillNewServer({ name: "Slow", url: "https://mcp.example.com/mcp" });
    fireEvent.change(screen.getByLabelText("Timeout (seconds)"), { target: { value: "45" } });
    fireEvent.click(screen.getByRole("button", { name: "Add server" }));
    expect(screen.getByLabelText("Timeout (seconds)").getAttribute("aria-invalid")).toBe("true");
    expect(api.find("POST", BASE)).toHaveLength(0);
  });

  it("never renders header values back: names only, masked, after save and when editing", async () => {
    const api = fakeApi({ [`GET ${BASE}`]: [], [`POST ${BASE}`]: created });
    render(<McpSection agentId="agt_123" />);
    await screen.findByText("No MCP servers yet");
    fillNewServer({ name: "CRM", url: "https://crm.example.com/mcp" });
    fireEvent.change(screen.getByLabelText("Header 1 name"), { target: { value: "Authorization" } });
    const value = screen.getByLabelText("Header 1 value") as HTMLInputElement;
    expect(value.type).toBe("password");
    fireEvent.change(value, { target: { value: SECRET } });
    fireEvent.click(screen.getByRole("button", { name: "Add server" }));

    const item = await screen.findByRole("listitem", { name: "CRM" });
    expect(api.find("POST", BASE)[0]?.body).toMatchObject({ headers: { Authorization: SECRET } });
    expect(within(item).getByTestId("mcp-header-names").textContent).toBe("Authorization ••••");
    const leaked = () =>
      document.body.innerHTML.includes(SECRET) || [...document.querySelectorAll("input")].some((i) => i.value.includes("sk-live"));
    expect(leaked()).toBe(false);

    // editing shows the stored names; replacing asks for every value again
    fireEvent.click(within(item).getByRole("button", { name: "Edit" }));
    const stored = screen.getByRole("list", { name: "Stored headers" });
    expect(stored.textContent).toBe("Authorization: ••••");
    expect(leaked()).toBe(false);
    fireEvent.click(screen.getByRole("button", { name: "Replace headers" }));
    expect((screen.getByLabelText("Header 1 name") as HTMLInputElement).value).toBe("Authorization");
    expect((screen.getByLabelText("Header 1 value") as HTMLInputElement).value).toBe("");
  });

  it("leaves stored headers alone when an edit does not replace them", () => {
    const saved = server({ headers: { Authorization: "••••" }, allowed_tools: ["book"] });
    const values = { ...valuesFromServer(saved), timeout: "20" };
    expect(toUpdate(values, saved)).toEqual({ timeout_seconds: 20 });
    expect(toUpdate({ ...values, allowAll: true }, saved)).toEqual({ timeout_seconds: 20, allowed_tools: null });
    expect(parseToolNames("book\n\n cancel ,book")).toEqual(["book", "cancel"]);
  });

  it("tests the connection, lists the tools and saves the ticked ones", async () => {
    document.cookie = "vocable_csrf=csrf-m";
    const api = fakeApi({
      [`GET ${BASE}`]: [server()],
      [`POST ${BASE}/mcp_1/test`]: {
        ok: true,
        tools: [
          { name: "book_table", description: "Book a table for a party", allowed: false },
          { name: "cancel_booking", description: "Cancel a booking by reference", allowed: false },
        ],
        elapsed_ms: 84,
      },
      [`PATCH ${BASE}/mcp_1`]: (req) => server({ ...(req.body as Partial<McpServer>), updated_at: "2025-01-02T10:00:00Z" }),
    });
    render(<McpSection agentId="agt_123" />);
    const item = await screen.findByRole("listitem", { name: "Bookings" });
    fireEvent.click(within(item).getByRole("button", { name: "Test connection" }));
    await within(item).findByText("Connected in 84 ms: 2 tools.");
    // where the tools are listed, it says that none is offered until allowed
    within(item).getByText(/only the tools ticked and saved here: none until you allow them/);
    const book = within(item).getByRole("checkbox", { name: /book_table/ }) as HTMLInputElement;
    expect(book.checked).toBe(false);
    expect(within(item).getByText("Cancel a booking by reference")).toBeTruthy();
    fireEvent.click(book);
    fireEvent.click(within(item).getByRole("button", { name: "Save allowed tools" }));
    await within(item).findByText("Allowed tools saved.");
    expect(within(item).getByText("book_table", { selector: "dd" })).toBeTruthy();
    expect((within(item).getByRole("checkbox", { name: /book_table/ }) as HTMLInputElement).checked).toBe(true);
    const [patch] = api.find("PATCH", `${BASE}/mcp_1`);
    expect(patch?.body).toEqual({ allowed_tools: ["book_table"] });
    expect(patch?.headers["x-csrf-token"]).toBe("csrf-m");

    // the edit form offers the tested tools as checkboxes
    fireEvent.click(within(item).getByRole("button", { name: "Edit" }));
    const group = screen.getByRole("group", { name: "Allowed tools" });
    expect((within(group).getByLabelText("book_table") as HTMLInputElement).checked).toBe(true);
    expect((within(group).getByLabelText("cancel_booking") as HTMLInputElement).checked).toBe(false);
  });

  it("shows why a connection test failed", async () => {
    fakeApi({
      [`GET ${BASE}`]: [server()],
      [`POST ${BASE}/mcp_1/test`]: {
        status: 502,
        body: { success: false, code: "mcp_unavailable", message: "The server did not answer within 12 s", errors: [{ reason: "timeout" }] },
      },
    });
    render(<McpSection agentId="agt_123" />);
    const item = await screen.findByRole("listitem", { name: "Bookings" });
    fireEvent.click(within(item).getByRole("button", { name: "Test connection" }));
    const alert = await within(item).findByRole("alert");
    expect(alert.textContent).toContain("The server did not answer within 12 s");
    expect(alert.textContent).toContain("mcp_unavailable");
  });

  it("toggles a server's active flag and deletes it after confirmation", async () => {
    const api = fakeApi({
      [`GET ${BASE}`]: [server()],
      [`PATCH ${BASE}/mcp_1`]: (req) => server(req.body as Partial<McpServer>),
      [`DELETE ${BASE}/mcp_1`]: { status: 204 },
    });
    render(<McpSection agentId="agt_123" />);
    const item = await screen.findByRole("listitem", { name: "Bookings" });
    fireEvent.click(within(item).getByRole("switch", { name: "Bookings active" }));
    await within(item).findByText("Inactive");
    expect(api.find("PATCH", `${BASE}/mcp_1`)[0]?.body).toEqual({ active: false });
    fireEvent.click(within(item).getByRole("button", { name: "Delete Bookings" }));
    fireEvent.click(within(item).getByRole("button", { name: "Yes, delete" }));
    await screen.findByText("No MCP servers yet");
    expect(api.find("DELETE", `${BASE}/mcp_1`)).toHaveLength(1);
  });
});
