import { describe, expect, it } from "vitest";
import { ApiError } from "../src/api";
import { changedFields, checkValues, parseDefaults, valuesFromAgent } from "../src/agent/form";
import { callSeconds, humanise } from "../src/calls";
import { formatDuration } from "../src/format";
import { splitErrors } from "../src/formErrors";
import { metricChips } from "../src/metrics";
import { agentFixture } from "./fakeApi";
import type { Agent, CallRecord } from "../src/api";

describe("form error splitting", () => {
  it("puts known fields next to their inputs and the rest in the banner", () => {
    const error = new ApiError(422, "invalid_request", "Invalid request: check body, name", [
      { field: "name", message: "too long" },
      { field: "body", message: "request body is not valid JSON" },
    ]);
    expect(splitErrors(error, ["name"])).toEqual({
      fields: { name: "too long" },
      banner: "Invalid request: check body, name (request body is not valid JSON)",
    });
  });

  it("uses the message alone when no field is named", () => {
    expect(splitErrors(new ApiError(404, "agent_not_found", "Agent not found"), ["name"])).toEqual({
      fields: {},
      banner: "Agent not found",
    });
  });

  it("shows no banner when every error has a field on the form", () => {
    const error = new ApiError(422, "invalid_request", "Invalid request: check language", [{ field: "language", message: "no" }]);
    expect(splitErrors(error, ["language"]).banner).toBeNull();
  });
});

describe("agent changes", () => {
  it("lists only the fields that differ from the saved agent", () => {
    const agent = agentFixture() as Agent;
    const values = { ...valuesFromAgent(agent), greeting: "Hi there", max_call_seconds: "600" };
    expect(changedFields(agent, values)).toEqual({ greeting: "Hi there", max_call_seconds: 600 });
    expect(changedFields(agent, valuesFromAgent(agent))).toEqual({});
  });

  it("maps the voice engine's deployment default to null and back", () => {
    const agent = agentFixture() as Agent;
    expect(valuesFromAgent(agent).voice_model).toBe("");
    expect(changedFields(agent, { ...valuesFromAgent(agent), voice_model: "elevenlabs" })).toEqual({ voice_model: "elevenlabs" });
    const cloned = agentFixture({ voice_model: "elevenlabs" }) as Agent;
    expect(changedFields(cloned, { ...valuesFromAgent(cloned), voice_model: "" })).toEqual({ voice_model: null });
  });

  it("sends variable defaults parsed from name=value lines, only when they change", () => {
    const agent = agentFixture({ variable_defaults: { plan: "basic" }, timezone: "UTC" }) as Agent;
    expect(valuesFromAgent(agent).variable_defaults).toBe("plan=basic");
    expect(changedFields(agent, valuesFromAgent(agent))).toEqual({});
    const edited = { ...valuesFromAgent(agent), variable_defaults: "plan=basic\ncustomer_name = friend\n\n" };
    expect(changedFields(agent, edited)).toEqual({ variable_defaults: { plan: "basic", customer_name: "friend" } });
    expect(parseDefaults("1st=x")).toBeNull();
    expect(parseDefaults("no equals sign")).toBeNull();
    expect(checkValues({ ...edited, variable_defaults: "bad line" }).variable_defaults).toMatch(/name=value/);
  });

  it("sees no change when an API without voice_model is saved untouched", () => {
    const { voice_model: _voiceModel, ...older } = agentFixture();
    const agent = older as unknown as Agent;
    expect(changedFields(agent, valuesFromAgent(agent))).toEqual({});
  });
});

describe("call display", () => {
  it("shows latencies in milliseconds, total first, and skips raw timestamps", () => {
    const chips = metricChips({
      end_of_turn_delay: 0.4123,
      llm_node_ttft: 0.25,
      e2e_latency: 1.2,
      started_speaking_at: 100,
      stopped_speaking_at: 102.5,
      queue_ms: 7,
      interrupted: true,
    });
    expect(chips.map((c) => [c.label, c.value])).toEqual([
      ["Total", "1200 ms"],
      ["End of utterance", "412 ms"],
      ["LLM TTFT", "250 ms"],
      ["Queue", "7.0 ms"],
      ["Interrupted", "yes"],
      ["Speaking", "2.5 s"],
    ]);
  });

  it("measures a call from join to end", () => {
    const call = {
      status: "ended",
      started_at: "2025-01-01T10:00:00Z",
      ended_at: "2025-01-01T10:01:05Z",
      usage: {},
    } as unknown as CallRecord;
    expect(formatDuration(callSeconds(call))).toBe("1:05");
    expect(formatDuration(null)).toBe("—");
    expect(humanise("caller_left")).toBe("Caller left");
  });
});
