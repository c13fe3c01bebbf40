import "./mockCallPanel";
import { fireEvent, render, screen, waitFor } from "@testing-library/react";
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
};
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
