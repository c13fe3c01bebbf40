import {
  DisconnectReason,
  Room,
  RoomEvent,
  Track,
  type RemoteParticipant,
  type RemoteTrack,
} from "livekit-client";
import { TypedEmitter } from "./emitter.js";
import { VocableError } from "./errors.js";
import {
  TOPIC_EVENTS,
  TOPIC_REPLY,
  TOPIC_USER_TEXT,
  encodeUserText,
  parseEvent,
  parseReply,
  type AgentState,
} from "./protocol.js";
import { fetchSession, type FetchLike, type SessionCredentials } from "./session.js";

/** A chat bubble: what the caller typed or said, or what the agent answered. */
export interface CallMessage {
  role: "user" | "assistant";
  text: string;
  /** `typed`: sent with {@link VoiceCall.sendText}; `speech`: a final transcript of the caller; `agent`: an agent turn. */
  source: "typed" | "speech" | "agent";
}

/** Lifecycle of a {@link VoiceCall}. */
export type ConnectionState = "idle" | "connecting" | "connected" | "reconnecting" | "disconnected";

/** The agent's voice: the remote track and the audio element playing it. */
export interface AgentAudio {
  track: RemoteTrack;
  element: HTMLMediaElement;
}

/** Events of a {@link VoiceCall}, by name and payload. */
export interface CallEvents {
  /** A chat message to render. */
  message: CallMessage;
  /** The agent's state changed (`listening`, `thinking`, `speaking`, ...). */
  agentState: AgentState;
  /** An interim transcript of the caller's speech, replaced by the next one. */
  interim: string;
  /** The call's connection state changed. */
  connectionState: ConnectionState;
  /** The agent's audio started playing (an {@link AgentAudio}) or ended (`null`). */
  agentAudio: AgentAudio | null;
  /** Something went wrong that no awaited call could report (e.g. an unexpected disconnect). */
  error: VocableError;
}

interface CallOptionsBase {
  /** Publish the microphone on connect. Default `true`; `false` makes a text-only call. */
  microphone?: boolean;
  /**
   * Where to put the agent's audio element. Defaults to `document.body` in a browser;
   * `null` leaves it detached from the DOM (it still plays).
   */
  audioContainer?: HTMLElement | null;
  /** Creates the LiveKit room; for tests. Defaults to `new Room({adaptiveStream: true, dynacast: true})`. */
  roomFactory?: () => Room;
  /** `fetch` used for `sessionUrl`; defaults to the global one. */
  fetch?: FetchLike;
}

/** Credentials already fetched by the page. */
export interface CallWithSession extends CallOptionsBase {
  session: SessionCredentials;
}

/** Credentials fetched from the customer's own backend route when the call connects. */
export interface CallWithSessionUrl extends CallOptionsBase {
  /** The customer's backend route (it holds the API key); POSTed with {@link CallWithSessionUrl.sessionRequest}. */
  sessionUrl: string;
  /** JSON body for `sessionUrl`; default `{}`. */
  sessionRequest?: unknown;
}

/** Options of {@link createCall}: either `session` or `sessionUrl`, plus shared settings. */
export type CallOptions = CallWithSession | CallWithSessionUrl;

/**
 * Creates a call; nothing happens until {@link VoiceCall.connect}, so listeners can be
 * attached first and miss nothing (the greeting included).
 */
export function createCall(options: CallOptions): VoiceCall {
  return new VoiceCall(options);
}

/**
 * One voice call with a Vocable agent: audio both ways plus a text chat, over one
 * LiveKit room. Single use: after {@link VoiceCall.end} create a new call.
 */
export class VoiceCall extends TypedEmitter<CallEvents> {
  private readonly options: CallOptions;
  private currentRoom: Room | undefined;
  private currentState: ConnectionState = "idle";
  /** Texts sent with sendText whose echo has not arrived yet, in order. */
  private readonly pendingTyped: string[] = [];
  private readonly audio = new Map<RemoteTrack, HTMLMediaElement>();
  private ending = false;

  constructor(options: CallOptions) {
    super();
    this.options = options;
  }

  /** The current connection state. */
  get state(): ConnectionState {
    return this.currentState;
  }

  /** The underlying LiveKit room while connected, for advanced use. */
  get room(): Room | undefined {
    return this.currentRoom;
  }

  /**
   * Fetches the session if needed, joins the room and enables the microphone.
   *
   * A microphone that cannot be enabled (permission denied, no device) does not fail
   * the call: an `error` event with code `microphone_unavailable` is emitted and text
   * chat keeps working.
   *
   * @throws {@link VocableError} `invalid_state`, a `session_*` code, or `connect_failed`.
   */
  async connect(): Promise<void> {
    if (this.currentState !== "idle") {
      throw new VocableError("invalid_state", `connect() needs an idle call, not ${this.currentState}`);
    }
    this.setState("connecting");
    let session: SessionCredentials;
    try {
      session = await this.resolveSession();
    } catch (error) {
      this.setState("disconnected");
      throw error;
    }
    if (this.ending) return; // end() was called while the session was being fetched.

    const room = this.options.roomFactory?.() ?? new Room({ adaptiveStream: true, dynacast: true });
    this.currentRoom = room;
    this.listen(room);
    try {
      await room.connect(session.livekit_url, session.token, { autoSubscribe: true });
    } catch (error) {
      this.release(room);
      await room.disconnect();
      this.setState("disconnected");
      if (this.ending) return; // end() during the join: the caller asked for this outcome.
      throw new VocableError("connect_failed", `Could not join the call at ${session.livekit_url}`, {
        cause: error,
      });
    }
    if (this.ending) return;
    this.setState("connected");

    if (this.options.microphone !== false) {
      try {
        await room.localParticipant.setMicrophoneEnabled(true);
      } catch (error) {
        this.emit("error", microphoneError(error));
      }
    }
  }

  /**
   * Sends a typed message to the agent and emits it at once as a `message` with source
   * `typed`; the agent's echo of the same text is dropped. Blank text is ignored.
   *
   * @throws {@link VocableError} `not_connected` or `send_failed`.
   */
  async sendText(text: string): Promise<void> {
    const trimmed = text.trim();
    if (!trimmed) return;
    const room = this.liveRoom();
    this.pendingTyped.push(trimmed);
    this.emit("message", { role: "user", text: trimmed, source: "typed" });
    try {
      await room.localParticipant.publishData(encodeUserText(trimmed), {
        reliable: true,
        topic: TOPIC_USER_TEXT,
      });
    } catch (error) {
      removeOne(this.pendingTyped, trimmed);
      throw new VocableError("send_failed", "Could not send the message", { cause: error });
    }
  }

  /**
   * Turns the caller's microphone on or off (mute).
   *
   * @throws {@link VocableError} `not_connected` or `microphone_unavailable`.
   */
  async setMicrophoneEnabled(enabled: boolean): Promise<void> {
    const room = this.liveRoom();
    try {
      await room.localParticipant.setMicrophoneEnabled(enabled);
    } catch (error) {
      throw microphoneError(error);
    }
  }

  /** Starts audio playback from a user gesture, for browsers that blocked autoplay. */
  async startAudio(): Promise<void> {
    await this.currentRoom?.startAudio();
  }

  /** Hangs up: disables the microphone, leaves the room and releases its resources. Safe to call twice. */
  async end(): Promise<void> {
    if (this.ending) return;
    this.ending = true;
    const room = this.currentRoom;
    if (room) {
      try {
        await room.localParticipant.setMicrophoneEnabled(false);
      } catch {
        // The disconnect below stops every local track anyway.
      }
      await room.disconnect();
      this.release(room);
    }
    this.setState("disconnected");
  }

  private async resolveSession(): Promise<SessionCredentials> {
    if ("session" in this.options) return this.options.session;
    return fetchSession(this.options.sessionUrl, this.options.sessionRequest ?? {}, this.options.fetch);
  }

  private liveRoom(): Room {
    const room = this.currentRoom;
    if (!room || (this.currentState !== "connected" && this.currentState !== "reconnecting")) {
      throw new VocableError("not_connected", "The call is not connected");
    }
    return room;
  }

  private setState(state: ConnectionState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.emit("connectionState", state);
  }

  private listen(room: Room): void {
    room
      .on(RoomEvent.DataReceived, this.onData)
      .on(RoomEvent.TrackSubscribed, this.onTrackSubscribed)
      .on(RoomEvent.TrackUnsubscribed, this.onTrackUnsubscribed)
      .on(RoomEvent.Reconnecting, this.onReconnecting)
      .on(RoomEvent.Reconnected, this.onReconnected)
      .on(RoomEvent.Disconnected, this.onDisconnected);
  }

  /** Stops listening to `room` and frees everything tied to it. */
  private release(room: Room): void {
    room
      .off(RoomEvent.DataReceived, this.onData)
      .off(RoomEvent.TrackSubscribed, this.onTrackSubscribed)
      .off(RoomEvent.TrackUnsubscribed, this.onTrackUnsubscribed)
      .off(RoomEvent.Reconnecting, this.onReconnecting)
      .off(RoomEvent.Reconnected, this.onReconnected)
      .off(RoomEvent.Disconnected, this.onDisconnected);
    for (const track of [...this.audio.keys()]) this.detachAudio(track);
    this.pendingTyped.length = 0;
    if (this.currentRoom === room) this.currentRoom = undefined;
  }

  private readonly onData = (
    payload: Uint8Array,
    _participant?: RemoteParticipant,
    _kind?: unknown,
    topic?: string,
  ): void => {
    if (topic === TOPIC_REPLY) this.handleReply(payload);
    else if (topic === TOPIC_EVENTS) this.handleEvent(payload);
  };

  private handleReply(payload: Uint8Array): void {
    const frame = parseReply(payload);
    if (!frame) return;
    if (frame.kind === "user_text") {
      // The echo of a typed message was already emitted by sendText: drop it once.
      if (removeOne(this.pendingTyped, frame.text)) return;
      this.emit("message", { role: "user", text: frame.text, source: "speech" });
    } else {
      this.emit("message", { role: "assistant", text: frame.text, source: "agent" });
    }
  }

  private handleEvent(payload: Uint8Array): void {
    const frame = parseEvent(payload);
    if (frame?.kind === "agent_state") this.emit("agentState", frame.state);
    else if (frame?.kind === "interim") this.emit("interim", frame.text);
  }

  private readonly onTrackSubscribed = (track: RemoteTrack): void => {
    if (track.kind !== Track.Kind.Audio || this.audio.has(track)) return;
    const element = track.attach();
    element.autoplay = true;
    const container = this.options.audioContainer === undefined ? globalThis.document?.body : this.options.audioContainer;
    container?.appendChild(element);
    this.audio.set(track, element);
    this.emit("agentAudio", { track, element });
  };

  private readonly onTrackUnsubscribed = (track: RemoteTrack): void => {
    this.detachAudio(track);
  };

  private detachAudio(track: RemoteTrack): void {
    const element = this.audio.get(track);
    if (!element) return;
    this.audio.delete(track);
    track.detach(element);
    element.remove();
    this.emit("agentAudio", null);
  }

  private readonly onReconnecting = (): void => {
    this.setState("reconnecting");
  };

  private readonly onReconnected = (): void => {
    this.setState("connected");
  };

  private readonly onDisconnected = (reason?: DisconnectReason): void => {
    const room = this.currentRoom;
    if (room) this.release(room);
    const expected = this.ending || reason === DisconnectReason.CLIENT_INITIATED;
    this.setState("disconnected");
    if (!expected) {
      const why = reason === undefined ? "unknown reason" : (DisconnectReason[reason] ?? String(reason));
      this.emit("error", new VocableError("disconnected", `The call was disconnected (${why})`));
    }
  };
}

function microphoneError(cause: unknown): VocableError {
  return new VocableError("microphone_unavailable", "Could not use the microphone", { cause });
}

/** Removes the first `value` from `list`; returns whether one was there. */
function removeOne(list: string[], value: string): boolean {
  const index = list.indexOf(value);
  if (index === -1) return false;
  list.splice(index, 1);
  return true;
}
