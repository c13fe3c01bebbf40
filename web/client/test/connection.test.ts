import { DisconnectReason, RoomEvent } from "livekit-client";
import { describe, expect, it } from "vitest";
import { connectedCall } from "./helpers.js";

describe("a dropped network", () => {
  it("goes reconnecting then connected on a signal-only resume too", async () => {
    const { room, states, errors } = await connectedCall();
    room.emit(RoomEvent.SignalReconnecting);
    room.emit(RoomEvent.Reconnected);
    expect(states).toEqual(["connecting", "connected", "reconnecting", "connected"]);
    expect(errors).toEqual([]);
  });

  it("reports one reconnecting state when LiveKit escalates a resume to a full reconnect", async () => {
    const { room, states } = await connectedCall();
    room.emit(RoomEvent.SignalReconnecting);
    room.emit(RoomEvent.Reconnecting);
    room.emit(RoomEvent.Reconnected);
    expect(states).toEqual(["connecting", "connected", "reconnecting", "connected"]);
  });

  it("keeps sending text while reconnecting", async () => {
    const { room, call } = await connectedCall();
    room.emit(RoomEvent.Reconnecting);
    await call.sendText("still there?");
    expect(room.localParticipant.published).toHaveLength(1);
  });

  it("ends in disconnected with a disconnected error when reconnecting fails", async () => {
    const { room, call, states, errors } = await connectedCall();
    room.emit(RoomEvent.Reconnecting);
    room.emit(RoomEvent.Disconnected, DisconnectReason.SIGNAL_CLOSE);
    expect(states).toEqual(["connecting", "connected", "reconnecting", "disconnected"]);
    expect(call.state).toBe("disconnected");
    expect(call.room).toBeUndefined();
    expect(errors.map((e) => e.code)).toEqual(["disconnected"]);
    expect(errors[0]!.message).toContain("SIGNAL_CLOSE");
    await expect(call.sendText("hello?")).rejects.toMatchObject({ code: "not_connected" });
  });

  it("reports a drop without a reason", async () => {
    const { room, errors } = await connectedCall();
    room.emit(RoomEvent.Disconnected);
    expect(errors.map((e) => e.code)).toEqual(["disconnected"]);
    expect(errors[0]!.message).toContain("unknown reason");
  });

  it("raises no error and ignores late room events after end()", async () => {
    const { room, call, states, errors } = await connectedCall();
    await call.end();
    room.emit(RoomEvent.Reconnecting);
    room.emit(RoomEvent.Disconnected, DisconnectReason.SERVER_SHUTDOWN);
    expect(states).toEqual(["connecting", "connected", "disconnected"]);
    expect(errors).toEqual([]);
  });
});
