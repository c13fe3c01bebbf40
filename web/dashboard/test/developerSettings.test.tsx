import "./mockCallPanel";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { App } from "../src/App";
import { USER, envelopeError, fakeApi } from "./fakeApi";

const KEY = {
  id: "key_1",
  name: "Production",
  prefix: "sk_live_ab",
  created_at: "2025-01-02T10:00:00Z",
  last_used_at: null,
  revoked_at: null,
  scopes: ["sessions:create"],
  agent_ids: [],
};
const AGENTS = [
  { id: "agt_1", name: "Receptionist" },
  { id: "agt_2", name: "Sales" },
];
const SECRET = "sk_live_abcdefghijklmnopqrstuvwxyz0123456789";

describe("developer settings", () => {
  it("shows a new key's secret once; after navigating away only the prefix is listed", async () => {
    let keys: unknown[] = [];
    fakeApi({
      "GET /api/auth/me": USER,
      "GET /api/agents": [],
      "GET /api/keys": () => keys,
      "POST /api/keys": () => {
        keys = [KEY];
        return { status: 201, body: { ...KEY, key: SECRET } };
      },
    });
    window.history.replaceState(null, "", "/settings?tab=developer");
    render(<App />);
    fireEvent.change(await screen.findByLabelText("Key name"), { target: { value: "Production" } });
    fireEvent.click(screen.getByRole("button", { name: "Create key" }));

    const secret = await screen.findByTestId("new-key-secret");
    expect(secret.textContent).toBe(SECRET);
    expect(screen.getByRole("button", { name: "Copy" })).toBeTruthy();
    expect(screen.getByText(/won't see it again/)).toBeTruthy();
    // the list is fetched again after the create; under load that takes a moment
    expect(await screen.findByText("sk_live_ab…", undefined, { timeout: 5000 })).toBeTruthy();

    fireEvent.click(screen.getByRole("link", { name: "Agents" }));
    await screen.findByText("No agents yet", undefined, { timeout: 5000 });
    fireEvent.click(screen.getByRole("link", { name: "Developer settings" }));
    await screen.findByText("sk_live_ab…", undefined, { timeout: 5000 });
    expect(screen.queryByTestId("new-key-secret")).toBeNull();
    expect(document.body.textContent).not.toContain(SECRET);
  });

  it("creates a sessions-only key by default and shows each key's permissions and agents", async () => {
    let keys: unknown[] = [{ ...KEY, id: "key_0", name: "Ops", prefix: "sk_ops", scopes: ["admin"] }];
    const api = fakeApi({
      "GET /api/auth/me": USER,
      "GET /api/agents": AGENTS,
      "GET /api/keys": () => keys,
      "POST /api/keys": (req) => {
        const body = req.body as { name: string; scopes: string[]; agent_ids: string[] };
        const row = { ...KEY, id: `key_${keys.length + 1}`, ...body };
        keys = [row, ...keys];
        return { status: 201, body: { ...row, key: SECRET } };
      },
    });
    window.history.replaceState(null, "", "/settings?tab=developer");
    render(<App />);
    expect(await screen.findByText("Full access", { selector: "td span" })).toBeTruthy();
    const sessions = screen.getByRole("checkbox", { name: /Create sessions/ }) as HTMLInputElement;
    expect(sessions.checked).toBe(true);
    expect((screen.getByRole("checkbox", { name: /Read calls/ }) as HTMLInputElement).checked).toBe(false);
    expect((screen.getByRole("radio", { name: /All agents/ }) as HTMLInputElement).checked).toBe(true);

    fireEvent.change(screen.getByLabelText("Key name"), { target: { value: "Website" } });
    fireEvent.click(screen.getByRole("button", { name: "Create key" }));
    await screen.findByTestId("new-key-secret");
    expect(api.find("POST", "/api/keys")[0]?.body).toEqual({ name: "Website", scopes: ["sessions:create"], agent_ids: [] });
    expect(await screen.findByText("Create sessions only")).toBeTruthy();

    // a second key: reads calls too, limited to one agent
    fireEvent.change(screen.getByLabelText("Key name"), { target: { value: "Reports" } });
    fireEvent.click(screen.getByRole("checkbox", { name: /Read calls/ }));
    fireEvent.click(screen.getByRole("radio", { name: /Only these agents/ }));
    fireEvent.click(screen.getByRole("checkbox", { name: /Sales/ }));
    fireEvent.click(screen.getByRole("button", { name: "Create key" }));
    await waitFor(() => expect(api.find("POST", "/api/keys")).toHaveLength(2));
    expect(api.find("POST", "/api/keys")[1]?.body).toEqual({
      name: "Reports",
      scopes: ["sessions:create", "calls:read"],
      agent_ids: ["agt_2"],
    });
    expect(await screen.findByText("sessions:create, calls:read")).toBeTruthy();
    expect(screen.getByText("Sales", { selector: "td" })).toBeTruthy();
  });

  it("asks for an agent when the key is limited to agents, and shows the API's scope error", async () => {
    const api = fakeApi({
      "GET /api/auth/me": USER,
      "GET /api/agents": AGENTS,
      "GET /api/keys": [],
      "POST /api/keys": {
        status: 422,
        body: envelopeError("invalid_request", "Invalid request: check scopes", [{ field: "scopes", message: "give at least one scope" }]),
      },
    });
    window.history.replaceState(null, "", "/settings?tab=developer");
    render(<App />);
    fireEvent.change(await screen.findByLabelText("Key name"), { target: { value: "Website" } });
    fireEvent.click(screen.getByRole("radio", { name: /Only these agents/ }));
    fireEvent.click(screen.getByRole("button", { name: "Create key" }));
    expect(await screen.findByText("Pick at least one agent, or choose all agents")).toBeTruthy();
    expect(api.find("POST", "/api/keys")).toHaveLength(0);

    fireEvent.click(screen.getByRole("radio", { name: /All agents/ }));
    fireEvent.click(screen.getByRole("button", { name: "Create key" }));
    expect(await screen.findByText("give at least one scope")).toBeTruthy();
  });

  it("shows the API's name error next to the Key name field", async () => {
    fakeApi({
      "GET /api/auth/me": USER,
      "GET /api/keys": [],
      "POST /api/keys": {
        status: 422,
        body: envelopeError("invalid_request", "Invalid request: check name", [{ field: "name", message: "String should have at most 120 characters" }]),
      },
    });
    window.history.replaceState(null, "", "/settings?tab=developer");
    render(<App />);
    const input = await screen.findByLabelText("Key name");
    fireEvent.change(input, { target: { value: "x" } });
    fireEvent.click(screen.getByRole("button", { name: "Create key" }));
    const message = await screen.findByText("String should have at most 120 characters");
    expect(input.getAttribute("aria-invalid")).toBe("true");
    expect(input.getAttribute("aria-describedby")?.split(" ")).toContain(message.id);
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("changes what a key may do and reach in place, and refuses an empty choice", async () => {
    let key = { ...KEY };
    const api = fakeApi({
      "GET /api/auth/me": USER,
      "GET /api/agents": AGENTS,
      "GET /api/keys": () => [key],
      "PATCH /api/keys/key_1": (req) => {
        key = { ...key, ...(req.body as object) };
        return key;
      },
    });
    window.history.replaceState(null, "", "/settings?tab=developer");
    render(<App />);
    expect(await screen.findByText("Create sessions only")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Edit permissions of “Production”" }));
    const panel = await screen.findByRole("region", { name: /Permissions of “Production”/ });
    // the create form gives way while a key is edited: one set of choices on the page
    expect(screen.queryByRole("button", { name: "Create key" })).toBeNull();
    const sessions = within(panel).getByRole("checkbox", { name: /Create sessions/ }) as HTMLInputElement;
    expect(sessions.checked).toBe(true);

    fireEvent.click(sessions);
    fireEvent.click(within(panel).getByRole("button", { name: "Save permissions" }));
    expect(await within(panel).findByText("Pick at least one permission")).toBeTruthy();
    expect(api.find("PATCH", "/api/keys/key_1")).toHaveLength(0);

    fireEvent.click(within(panel).getByRole("checkbox", { name: /Create sessions/ }));
    fireEvent.click(within(panel).getByRole("checkbox", { name: /Read calls/ }));
    fireEvent.click(within(panel).getByRole("radio", { name: /Only these agents/ }));
    fireEvent.click(within(panel).getByRole("checkbox", { name: /Receptionist/ }));
    fireEvent.click(within(panel).getByRole("button", { name: "Save permissions" }));
    await waitFor(() => expect(api.find("PATCH", "/api/keys/key_1")).toHaveLength(1));
    expect(api.find("PATCH", "/api/keys/key_1")[0]?.body).toEqual({ scopes: ["sessions:create", "calls:read"], agent_ids: ["agt_1"] });
    expect(await screen.findByText("sessions:create, calls:read")).toBeTruthy();
    expect(screen.getByText("Receptionist", { selector: "td" })).toBeTruthy();
    expect(screen.queryByRole("region", { name: /Permissions of/ })).toBeNull();
    expect(screen.getByRole("button", { name: "Create key" })).toBeTruthy();
  });

  it("revokes a key only after confirmation", async () => {
    const api = fakeApi({
      "GET /api/auth/me": USER,
      "GET /api/keys": [KEY],
      "DELETE /api/keys/key_1": { ...KEY, revoked_at: "2025-01-03T10:00:00Z" },
    });
    window.history.replaceState(null, "", "/settings?tab=developer");
    render(<App />);
    fireEvent.click(await screen.findByRole("button", { name: "Revoke" }));
    fireEvent.click(screen.getByRole("button", { name: "Yes, revoke" }));
    await screen.findByText(/^Revoked/);
    expect(api.find("DELETE", "/api/keys/key_1")).toHaveLength(1);
    expect(screen.queryByRole("button", { name: "Revoke" })).toBeNull();
  });
});

describe("sign-in", () => {
  it("sends a signed-out visitor to /login and back where they were going", async () => {
    let signedIn = false;
    const api = fakeApi({
      "GET /api/auth/me": () => (signedIn ? USER : { status: 401, body: envelopeError("unauthorized", "Sign in required") }),
      "POST /api/auth/login": (req) => {
        const body = req.body as { password: string };
        if (body.password !== "right") return { status: 401, body: envelopeError("invalid_credentials", "Email or password is incorrect") };
        signedIn = true;
        return { user: USER, csrf_token: "c" };
      },
      "GET /api/sessions?limit=50": [],
      "GET /api/agents": [],
    });
    window.history.replaceState(null, "", "/calls");
    render(<App />);
    const email = await screen.findByLabelText("Email");
    expect(window.location.pathname).toBe("/login");
    fireEvent.change(email, { target: { value: "ada@example.com" } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "wrong" } });
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect((await screen.findByRole("alert")).textContent).toContain("Email or password is incorrect");

    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "right" } });
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    await screen.findByText("No calls yet");
    expect(window.location.pathname).toBe("/calls");
    expect(api.find("POST", "/api/auth/login")).toHaveLength(2);
  });

  it("signs out from the header", async () => {
    const api = fakeApi({
      "GET /api/auth/me": USER,
      "GET /api/agents": [],
      "POST /api/auth/logout": { status: 204 },
    });
    window.history.replaceState(null, "", "/agents");
    render(<App />);
    fireEvent.click(await screen.findByRole("button", { name: "Sign out" }));
    await screen.findByRole("button", { name: "Sign in" });
    await waitFor(() => expect(window.location.pathname).toBe("/login"));
    expect(api.find("POST", "/api/auth/logout")).toHaveLength(1);
  });
});
