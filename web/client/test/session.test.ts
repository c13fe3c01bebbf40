import { describe, expect, it } from "vitest";
import { createCall, fetchSession, readSession, VocableError, type FetchLike } from "../src/index.js";
import { FakeRoom } from "./fake-room.js";

interface SeenRequest {
  url: string;
  init: RequestInit;
}

/** A fake fetch answering every request with one canned response, recording what it saw. */
function fakeFetch(status: number, body: string): { fetch: FetchLike; seen: SeenRequest[] } {
  const seen: SeenRequest[] = [];
  return {
    seen,
    fetch: async (url, init) => {
      seen.push({ url, init });
      return new Response(body, { status, headers: { "Content-Type": "application/json" } });
    },
  };
}

const envelope = {
  success: true,
  message: "Request successful",
  data: { token: "eyJ.tok", livekit_url: "wss://voice.example", room_name: "room_1", session_id: "s1" },
};

describe("sessionUrl", () => {
  it("POSTs sessionRequest as JSON and connects with the envelope's credentials", async () => {
    const { fetch, seen } = fakeFetch(200, JSON.stringify(envelope));
    const room = new FakeRoom();
    const call = createCall({
      sessionUrl: "/api/voice-agent/session",
      sessionRequest: { agent: "agent_1", language: "en" },
      fetch,
      roomFactory: () => room.asRoom(),
      audioContainer: null,
    });
    await call.connect();
    expect(seen).toHaveLength(1);
    expect(seen[0]!.url).toBe("/api/voice-agent/session");
    expect(seen[0]!.init.method).toBe("POST");
    expect(seen[0]!.init.headers).toEqual({ "Content-Type": "application/json" });
    expect(seen[0]!.init.body).toBe('{"agent":"agent_1","language":"en"}');
    expect(room.connectedWith?.url).toBe("wss://voice.example");
    expect(room.connectedWith?.token).toBe("eyJ.tok");
  });

  it("sends {} when no sessionRequest is given and accepts a bare {token, livekit_url}", async () => {
    const { fetch, seen } = fakeFetch(200, JSON.stringify({ token: "t", livekit_url: "wss://bare" }));
    const room = new FakeRoom();
    await createCall({ sessionUrl: "/session", fetch, roomFactory: () => room.asRoom() }).connect();
    expect(seen[0]!.init.body).toBe("{}");
    expect(room.connectedWith).toMatchObject({ url: "wss://bare", token: "t" });
  });

  it("rejects a non-2xx answer with session_http_error, the status and the body's message", async () => {
    const body = JSON.stringify({ success: false, message: "Unknown agent", errors: {} });
    const { fetch } = fakeFetch(404, body);
    const room = new FakeRoom();
    const call = createCall({ sessionUrl: "/session", fetch, roomFactory: () => room.asRoom() });
    const error = await call.connect().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VocableError);
    expect(error).toMatchObject({ code: "session_http_error", status: 404, message: "Unknown agent" });
    expect(call.state).toBe("disconnected");
    expect(room.connectedWith).toBeUndefined();
  });

  it("never joins the room when end() is called while the session is being fetched", async () => {
    let answer: (response: Response) => void = () => undefined;
    const slowFetch: FetchLike = () => new Promise<Response>((resolve) => (answer = resolve));
    let rooms = 0;
    const call = createCall({
      sessionUrl: "/session",
      fetch: slowFetch,
      roomFactory: () => {
        rooms += 1;
        return new FakeRoom().asRoom();
      },
    });
    const connecting = call.connect();
    await call.end();
    answer(new Response(JSON.stringify(envelope), { status: 200 }));
    await connecting;
    expect(rooms).toBe(0);
    expect(call.state).toBe("disconnected");
  });

  it("uses a plain-text error body as the message", async () => {
    const { fetch } = fakeFetch(502, "Bad gateway\n");
    await expect(fetchSession("/session", {}, fetch)).rejects.toMatchObject({
      code: "session_http_error",
      status: 502,
      message: "Bad gateway",
    });
  });

  it("rejects a 2xx answer without credentials with session_invalid", async () => {
    const { fetch } = fakeFetch(200, JSON.stringify({ success: true, message: "ok", data: { token: "t" } }));
    await expect(fetchSession("/session", {}, fetch)).rejects.toMatchObject({ code: "session_invalid" });
  });

  it("rejects a body that is not JSON with session_invalid", async () => {
    const { fetch } = fakeFetch(200, "<html>");
    await expect(fetchSession("/session", {}, fetch)).rejects.toMatchObject({ code: "session_invalid" });
  });

  it("wraps a network failure in session_request_failed", async () => {
    const failing: FetchLike = async () => {
      throw new TypeError("Failed to fetch");
    };
    await expect(fetchSession("/session", {}, failing)).rejects.toMatchObject({ code: "session_request_failed" });
  });
});

describe("readSession", () => {
  it("reads the envelope, keeping extra fields", () => {
    expect(readSession(envelope)).toEqual(envelope.data);
  });

  it.each([null, "x", [], {}, { token: "", livekit_url: "wss://x" }, { data: { livekit_url: "wss://x" } }])(
    "rejects %j",
    (body) => {
      expect(() => readSession(body)).toThrow(VocableError);
    },
  );
});

describe("getSession", () => {
  it("connects with the credentials the app's function returns, envelope or bare", async () => {
    for (const answer of [envelope, envelope.data]) {
      const room = new FakeRoom();
      let calls = 0;
      const call = createCall({
        getSession: async () => {
          calls += 1;
          return answer;
        },
        roomFactory: () => room.asRoom(),
        audioContainer: null,
      });
      expect(calls).toBe(0); // nothing happens before connect()
      await call.connect();
      expect(calls).toBe(1);
      expect(room.connectedWith).toMatchObject({ url: "wss://voice.example", token: "eyJ.tok" });
    }
  });

  it("rejects a result without credentials with session_invalid and never joins", async () => {
    const room = new FakeRoom();
    const call = createCall({
      getSession: async () => JSON.parse('{"success": true, "data": {"token": "t"}}') as never,
      roomFactory: () => room.asRoom(),
    });
    await expect(call.connect()).rejects.toMatchObject({ code: "session_invalid" });
    expect(call.state).toBe("disconnected");
    expect(room.connectedWith).toBeUndefined();
  });

  it("wraps what the function throws in session_request_failed, keeping the cause", async () => {
    const failure = new Error("CSRF token missing");
    const call = createCall({
      getSession: () => Promise.reject(failure),
      roomFactory: () => new FakeRoom().asRoom(),
    });
    const error = await call.connect().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VocableError);
    expect(error).toMatchObject({ code: "session_request_failed", message: "Could not get a session: CSRF token missing" });
    expect((error as VocableError).cause).toBe(failure);
  });

  it("passes a VocableError thrown by the function through unchanged", async () => {
    const own = new VocableError("session_http_error", "Forbidden", { status: 403 });
    const call = createCall({ getSession: () => Promise.reject(own), roomFactory: () => new FakeRoom().asRoom() });
    await expect(call.connect()).rejects.toBe(own);
  });
});

describe("session option", () => {
  it("is validated before any room is created", async () => {
    let rooms = 0;
    const call = createCall({
      session: { token: "", livekit_url: "wss://x" },
      roomFactory: () => {
        rooms += 1;
        return new FakeRoom().asRoom();
      },
    });
    await expect(call.connect()).rejects.toMatchObject({ code: "session_invalid" });
    expect(rooms).toBe(0);
  });
});

describe("CallOptions", () => {
  it("accepts exactly one way to get credentials (checked by tsc)", () => {
    const getSession = async () => envelope;
    // @ts-expect-error session and sessionUrl together are ambiguous
    createCall({ session: envelope.data, sessionUrl: "/session" });
    // @ts-expect-error getSession and sessionUrl together are ambiguous
    createCall({ getSession, sessionUrl: "/session" });
    // @ts-expect-error one of them is required
    createCall({ microphone: false });
    expect(createCall({ getSession }).state).toBe("idle");
  });
});
