import { RoomEvent } from "livekit-client";
import { describe, expect, it } from "vitest";
import { createCall } from "../src/index.js";
import { FakeRemoteAudioTrack, FakeRoom } from "./fake-room.js";
import { session } from "./helpers.js";

function newCall(options: { microphone?: boolean } = {}) {
  const room = new FakeRoom();
  const call = createCall({ session, roomFactory: () => room.asRoom(), audioContainer: null, ...options });
  const agentTracks: (MediaStreamTrack | undefined)[] = [];
  const micTracks: (MediaStreamTrack | undefined)[] = [];
  call.on("agentAudioTrack", (t) => agentTracks.push(t));
  call.on("microphoneTrack", (t) => micTracks.push(t));
  return { room, call, agentTracks, micTracks };
}

describe("microphone track", () => {
  it("is exposed once the microphone is published, and stays while muted", async () => {
    const { room, call, micTracks } = newCall();
    expect(call.microphoneTrack).toBeUndefined();
    await call.connect();
    const media = room.localParticipant.microphone!.track.mediaStreamTrack;
    expect(call.microphoneTrack).toBe(media);
    expect(micTracks).toEqual([media]);
    expect(call.microphoneEnabled).toBe(true);
    await call.setMicrophoneEnabled(false);
    expect(call.microphoneEnabled).toBe(false);
    expect(call.microphoneTrack).toBe(media);
    expect(micTracks).toHaveLength(1);
  });

  it("follows a restarted track (device switch)", async () => {
    const { room, call, micTracks } = newCall();
    await call.connect();
    const track = room.localParticipant.microphone!.track;
    const replaced = new (track.mediaStreamTrack.constructor as new () => typeof track.mediaStreamTrack)();
    track.mediaStreamTrack = replaced;
    room.emit(RoomEvent.ActiveDeviceChanged, "audioinput", "usb-headset");
    expect(call.microphoneTrack).toBe(replaced);
    expect(micTracks.at(-1)).toBe(replaced);
  });

  it("end() stops the microphone track, so the browser's indicator turns off", async () => {
    const { room, call, micTracks } = newCall();
    await call.connect();
    const publication = room.localParticipant.microphone!;
    expect(publication.track.mediaStreamTrack.readyState).toBe("live");
    await call.end();
    expect(publication.track.stopCalls).toBeGreaterThan(0);
    expect(publication.track.mediaStreamTrack.readyState).toBe("ended");
    expect(call.microphoneTrack).toBeUndefined();
    expect(micTracks.at(-1)).toBeUndefined();
  });

  it("stops the microphone when the room drops unexpectedly", async () => {
    const { room, call } = newCall();
    await call.connect();
    const publication = room.localParticipant.microphone!;
    call.on("error", () => undefined);
    room.emit(RoomEvent.Disconnected);
    expect(publication.track.mediaStreamTrack.readyState).toBe("ended");
    expect(call.microphoneTrack).toBeUndefined();
  });

  it("stops a microphone that arrives after end() was called during getUserMedia", async () => {
    const room = new FakeRoom();
    let grant: () => void = () => undefined;
    const participant = room.localParticipant;
    const realEnable = participant.setMicrophoneEnabled.bind(participant);
    participant.setMicrophoneEnabled = async (enabled: boolean) => {
      if (enabled) await new Promise<void>((resolve) => (grant = resolve));
      return realEnable(enabled);
    };
    const call = createCall({ session, roomFactory: () => room.asRoom(), audioContainer: null });
    const connecting = call.connect();
    await new Promise((resolve) => setTimeout(resolve, 0));
    await call.end();
    grant();
    await connecting;
    expect(participant.microphone?.track.mediaStreamTrack.readyState).toBe("ended");
    expect(call.microphoneTrack).toBeUndefined();
  });

  it("is never set for a text-only call", async () => {
    const { call, micTracks } = newCall({ microphone: false });
    await call.connect();
    expect(call.microphoneTrack).toBeUndefined();
    expect(call.microphoneEnabled).toBe(false);
    expect(micTracks).toEqual([]);
  });
});

describe("agent audio track", () => {
  it("exposes the subscribed agent track and clears it when unsubscribed", async () => {
    const { room, call, agentTracks } = newCall();
    await call.connect();
    const track = new FakeRemoteAudioTrack();
    room.emit(RoomEvent.TrackSubscribed, track, {}, {});
    expect(call.agentAudioTrack).toBe(track.mediaStreamTrack);
    room.emit(RoomEvent.TrackUnsubscribed, track, {}, {});
    expect(call.agentAudioTrack).toBeUndefined();
    expect(agentTracks).toEqual([track.mediaStreamTrack, undefined]);
  });

  it("falls back to the remaining track when one of two goes away, and clears on end()", async () => {
    const { room, call } = newCall();
    await call.connect();
    const first = new FakeRemoteAudioTrack();
    const second = new FakeRemoteAudioTrack();
    room.emit(RoomEvent.TrackSubscribed, first, {}, {});
    room.emit(RoomEvent.TrackSubscribed, second, {}, {});
    expect(call.agentAudioTrack).toBe(second.mediaStreamTrack);
    room.emit(RoomEvent.TrackUnsubscribed, second, {}, {});
    expect(call.agentAudioTrack).toBe(first.mediaStreamTrack);
    await call.end();
    expect(call.agentAudioTrack).toBeUndefined();
  });
});
