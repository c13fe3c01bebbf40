import { RoomEvent } from "livekit-client";
import type { CallOptions } from "@vocable/client";
// The client's own fake LiveKit room: one fake, kept in step with what the SDK uses.
import { FakeRemoteAudioTrack, FakeRoom, type FakeRoomOptions } from "../../client/test/fake-room.js";

export { FakeRemoteAudioTrack, FakeRoom };

export const session = { token: "tok", livekit_url: "wss://lk.example" };

/** Call options that connect to fresh fake rooms; `rooms` lists every room created. */
export function fakeCallOptions(roomOptions: FakeRoomOptions = {}): {
  options: CallOptions;
  rooms: FakeRoom[];
  room: () => FakeRoom;
} {
  const rooms: FakeRoom[] = [];
  return {
    rooms,
    room: () => {
      const last = rooms.at(-1);
      if (!last) throw new Error("no room was created yet");
      return last;
    },
    options: {
      session,
      audioContainer: null,
      roomFactory: () => {
        const room = new FakeRoom(roomOptions);
        rooms.push(room);
        return room.asRoom();
      },
    },
  };
}

/** The agent starts speaking: its audio track is subscribed. */
export function agentSpeaks(room: FakeRoom): FakeRemoteAudioTrack {
  const track = new FakeRemoteAudioTrack();
  room.emit(RoomEvent.TrackSubscribed, track, {}, {});
  return track;
}
