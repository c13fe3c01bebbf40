import { DisconnectReason, RoomEvent } from "livekit-client";
import { describe, expect, it } from "vitest";
import { connectedCall } from "./helpers.js";

describe("the agent leaving a call that is up", () => {
  it("emits an agent_left error, then disconnected when the platform closes the room", async () => {
    const { room, call, states, errors } = await connectedCall();
    room.participantLeaves("agent", DisconnectReason.CONNECTION_TIMEOUT);
    expect(errors.map((e) => e.code)).toEqual(["agent_left"]);
    expect(errors[0]!.message).toContain("CONNECTION_TIMEOUT");
    expect(call.state).toBe("connected");
    room.emit(RoomEvent.Disconnected, DisconnectReason.ROOM_DELETED);
    expect(errors.map((e) => e.code)).toEqual(["agent_left", "disconnected"]);
    expect(states).toEqual(["connecting", "connected", "disconnected"]);
  });

  it("reports a leave without a reason too", async () => {
    const { room, errors } = await connectedCall();
    room.participantLeaves("agent");
    expect(errors.map((e) => e.code)).toEqual(["agent_left"]);
    expect(errors[0]!.message).toBe("The agent left the call");
  });

  it("says nothing when the room is deleted: disconnected reports that", async () => {
    const { room, errors } = await connectedCall();
    room.participantLeaves("agent", DisconnectReason.ROOM_DELETED);
    expect(errors).toEqual([]);
  });

  it("is not raised while LiveKit reconnects and unwinds every participant", async () => {
    const { room, errors } = await connectedCall();
    room.emit(RoomEvent.SignalReconnecting);
    room.participantLeaves("agent");
    room.emit(RoomEvent.Reconnected);
    expect(errors).toEqual([]);
  });

  it("ignores participants that are not agents", async () => {
    const { room, errors } = await connectedCall();
    room.agentJoins("observer", false);
    room.participantLeaves("observer");
    expect(errors).toEqual([]);
  });

  it("is not raised after end()", async () => {
    const { room, call, errors } = await connectedCall();
    await call.end();
    room.emit(RoomEvent.ParticipantDisconnected, { identity: "agent", isAgent: true });
    expect(errors).toEqual([]);
  });
});
