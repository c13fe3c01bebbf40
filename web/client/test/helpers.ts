/**
 * Shared setup of the call tests: a call on a fresh {@link FakeRoom} whose events are
 * recorded from the start.
 */
import {
  createCall,
  type CallMessage,
  type CallOptionsBase,
  type ConnectionState,
  type VocableError,
  type VoiceCall,
} from "../src/index.js";
import { FakeRoom, type FakeRoomOptions } from "./fake-room.js";

export const session = { token: "tok", livekit_url: "wss://lk.example" };

/** Settings a test may change; the room and the (detached) audio container are fixed. */
export type TestCallOptions = Pick<CallOptionsBase, "microphone" | "agentJoinTimeoutMs">;

export interface RecordedCall {
  room: FakeRoom;
  call: VoiceCall;
  /** Every `message`, `error` and `connectionState` event, in order. */
  messages: CallMessage[];
  errors: VocableError[];
  states: ConnectionState[];
}

/** A call on a new fake room, with its events recorded; not connected yet. */
export function recordedCall(options: TestCallOptions = {}, roomOptions: FakeRoomOptions = {}): RecordedCall {
  const room = new FakeRoom(roomOptions);
  const call = createCall({ session, roomFactory: () => room.asRoom(), audioContainer: null, ...options });
  const recorded: RecordedCall = { room, call, messages: [], errors: [], states: [] };
  call.on("message", (m) => recorded.messages.push(m));
  call.on("error", (e) => recorded.errors.push(e));
  call.on("connectionState", (s) => recorded.states.push(s));
  return recorded;
}

/** {@link recordedCall}, connected (the agent is in the room unless `roomOptions` say otherwise). */
export async function connectedCall(options: TestCallOptions = {}, roomOptions: FakeRoomOptions = {}): Promise<RecordedCall> {
  const recorded = recordedCall(options, roomOptions);
  await recorded.call.connect();
  return recorded;
}
