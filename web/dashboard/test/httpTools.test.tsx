import { fireEvent, render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { HttpToolsSection } from "../src/agent/HttpToolsSection";
import { checkToolValues, toToolUpdate, valuesFromTool } from "../src/agent/httpTools";
import type { HttpTool } from "../src/api";
import { envelopeError, fakeApi, type Received } from "./fakeApi";

const BASE = "/api/agents/agt_123/tools";
const SECRET = "Bearer sk-live-0123456789";
const PARAMETERS = {
  type: "object",
  properties: { order_id: { type: "string" } },
  required: ["order_id"],
  additionalProperties: false,
};

function tool(overrides: Partial<HttpTool> = {}): HttpTool {
  return {
    id: "tool_1",
    agent_id: "agt_123",
    name: "get_order_status",
    description: "Look up an order",
    method: "GET",
    url: "https://shop.example.com/orders?store={{store}}",
    parameters: PARAMETERS,
    headers: { Authorization: "••••" },
    variables: ["store"],
    timeout_seconds: 10,
    enabled: true,
    created_at: "2026-12-07T10:00:00Z",
    updated_at: "2026-12-07T10:00:00Z",
    ...overrides,
  };
}

function created(req: Received) {
  const body = req.body as Record<string, unknown>;
  const headers = Object.fromEntries(Object.keys((body["headers"] as Record<string, string>) ?? {}).map((k) => [k, "••••"]));
  return { status: 201, body: tool({ ...(body as Partial<HttpTool>), headers, variables: [], id: "tool_9" }) };
}

function fillNewTool() {
  fireEvent.click(screen.getByRole("button", { name: "Add HTTP tool" }));
  fireEvent.change(screen.getByLabelText("Function name"), { target: { value: "check_stock" } });
  fireEvent.change(screen.getByLabelText("Endpoint URL"), { target: { value: "https://shop.example.com/stock" } });
  fireEvent.change(screen.getByLabelText("Description"), { target: { value: "Check whether an item is in stock" } });
}

describe("HTTP tools", () => {
  it("lists tools with header names only, method, URL, parameters and variables", async () => {
    fakeApi({ [`GET ${BASE}`]: [tool()] });
    render(<HttpToolsSection agentId="agt_123" />);
    const item = await screen.findByRole("listitem", { name: "get_order_status" });
    expect(within(item).getByText("GET https://shop.example.com/orders?store={{store}}")).toBeTruthy();
    expect(within(item).getByText("order_id*")).toBeTruthy();
    expect(within(item).getByText("{{store}}")).toBeTruthy();
    expect(within(item).getByTestId("tool-header-names").textContent).toBe("Authorization ••••");
  });

  it("adds a tool with its method, parameters, headers and timeout, and keeps no header value", async () => {
    const api = fakeApi({ [`GET ${BASE}`]: [], [`POST ${BASE}`]: created });
    render(<HttpToolsSection agentId="agt_123" />);
    await screen.findByText("No HTTP tools yet");
    fillNewTool();
    fireEvent.change(screen.getByLabelText("Method"), { target: { value: "POST" } });
    fireEvent.change(screen.getByLabelText("Parameters (JSON schema)"), { target: { value: JSON.stringify({ type: "object", properties: { item: { type: "string" } }, required: ["item"] }) } });
    fireEvent.change(screen.getByLabelText("Header 1 name"), { target: { value: "Authorization" } });
    fireEvent.change(screen.getByLabelText("Header 1 value"), { target: { value: SECRET } });
    fireEvent.change(screen.getByLabelText("Timeout (seconds)"), { target: { value: "5" } });
    fireEvent.click(screen.getByRole("button", { name: "Add tool" }));
    const item = await screen.findByRole("listitem", { name: "check_stock" });
    expect(api.find("POST", BASE)[0]?.body).toEqual({
      name: "check_stock",
      description: "Check whether an item is in stock",
      method: "POST",
      url: "https://shop.example.com/stock",
      parameters: { type: "object", properties: { item: { type: "string" } }, required: ["item"] },
      headers: { Authorization: SECRET },
      timeout_seconds: 5,
      enabled: true,
    });
    expect(within(item).getByTestId("tool-header-names").textContent).toBe("Authorization ••••");
    expect(document.body.innerHTML).not.toContain(SECRET);
  });

  it("shows the API's 422 on parameters next to the parameters field", async () => {
    fakeApi({
      [`GET ${BASE}`]: [],
      [`POST ${BASE}`]: { status: 422, body: envelopeError("invalid_request", "Invalid request", [{ field: "parameters", message: "property 'a': type must be one of string, number, integer, boolean" }]) },
    });
    render(<HttpToolsSection agentId="agt_123" />);
    await screen.findByText("No HTTP tools yet");
    fillNewTool();
    fireEvent.click(screen.getByRole("button", { name: "Add tool" }));
    const message = await screen.findByText("property 'a': type must be one of string, number, integer, boolean");
    const field = screen.getByLabelText("Parameters (JSON schema)");
    expect(field.getAttribute("aria-invalid")).toBe("true");
    expect(field.getAttribute("aria-describedby")?.split(" ")).toContain(message.id);
  });

  it("checks the name, JSON and timeout before calling the API", async () => {
    const api = fakeApi({ [`GET ${BASE}`]: [] });
    render(<HttpToolsSection agentId="agt_123" />);
    await screen.findByText("No HTTP tools yet");
    fillNewTool();
    fireEvent.change(screen.getByLabelText("Function name"), { target: { value: "end_call" } });
    fireEvent.change(screen.getByLabelText("Parameters (JSON schema)"), { target: { value: "{not json" } });
    fireEvent.change(screen.getByLabelText("Timeout (seconds)"), { target: { value: "31" } });
    fireEvent.click(screen.getByRole("button", { name: "Add tool" }));
    for (const label of ["Function name", "Parameters (JSON schema)", "Timeout (seconds)"]) {
      expect(screen.getByLabelText(label).getAttribute("aria-invalid")).toBe("true");
    }
    expect(api.find("POST", BASE)).toHaveLength(0);
  });

  it("edits send only what changed, and headers only when replaced", () => {
    const stored = tool();
    const values = { ...valuesFromTool(stored), timeout: "20", enabled: false };
    expect(toToolUpdate(values, stored)).toEqual({ timeout_seconds: 20, enabled: false });
    const replaced = { ...values, replaceHeaders: true, headers: [{ name: "X-Key", value: "k" }] };
    expect(toToolUpdate(replaced, stored).headers).toEqual({ "X-Key": "k" });
    expect(checkToolValues(valuesFromTool(stored))).toEqual({});
  });

  it("toggles a tool off and deletes one", async () => {
    const api = fakeApi({
      [`GET ${BASE}`]: [tool()],
      [`PATCH ${BASE}/tool_1`]: tool({ enabled: false }),
      [`DELETE ${BASE}/tool_1`]: { status: 204 },
    });
    render(<HttpToolsSection agentId="agt_123" />);
    fireEvent.click(await screen.findByRole("switch", { name: "get_order_status enabled" }));
    expect(await screen.findByText("Disabled")).toBeTruthy();
    expect(api.find("PATCH", `${BASE}/tool_1`)[0]?.body).toEqual({ enabled: false });
    fireEvent.click(screen.getByRole("button", { name: "Delete get_order_status" }));
    fireEvent.click(await screen.findByRole("button", { name: "Yes, delete" }));
    expect(await screen.findByText("No HTTP tools yet")).toBeTruthy();
  });
});
