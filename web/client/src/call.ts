import {
  DisconnectReason,
  Room,
  RoomEvent,
  Track,
  type LocalTrack,
  type LocalTrackPublication,
  type RemoteParticipant,
  type RemoteTrack,
} from "livekit-client";
import { TypedEmitter } from "./emitter.js";
import { VocableError } from "./errors.js";
import { Outbox } from "./outbox.js";
import {
  TOPIC_EVENTS,
  TOPIC_REPLY,
  TOPIC_USER_TEXT,
  encodeUserText,
  parseEvent,
  parseReply,
  type AgentState,
  type VoiceFallbackReason,
} from "./protocol.js";
import {
  fetchSession,
  readSession,
  requestSession,
  type FetchLike,
  type SessionCredentials,
  type SessionProvider,
} from "./session.js";

/** Default for {@link CallOptionsBase.agentJoinTimeoutMs}. */
const AGENT_JOIN_TIMEOUT_MS = 15_000;

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

/** Payload of the `voiceFallback` event. */
export interface VoiceFallback {
  /** The cloning engine that could not be used (`elevenlabs`, `cartesia`, `clone-server`, ...). */
  voiceModel: string;
  /** Why it could not be used. */
  reason: VoiceFallbackReason;
}

/** Payload of the `voiceRestored` event. */
export interface VoiceRestored {
  /** The cloning engine the agent speaks with again. */
  voiceModel: string;
}

/** Payload of the `handoff` event: the agent is handing the caller over to a person. */
export interface Handoff {
  /** Why the caller needs a person, in a few words (the LLM's; may be empty). */
  readonly reason: string;
  /** One sentence on what the caller wants and what was said so far (may be empty). */
  readonly summary: string;
}

/**
 * Which voice the agent speaks in, as it last reported ({@link VoiceCall.voice}).
 * Agents that use no cloning engine never report anything: `{fallback: false}` throughout.
 */
export interface VoiceStatus {
  /** `true` while the agent speaks in its standard (embedded) voice because its cloning engine could not be used. */
  readonly fallback: boolean;
  /** The cloning engine named by the last voice event, if any. */
  readonly voiceModel?: string;
  /** Why the agent fell back, while `fallback` is `true`. */
  readonly reason?: VoiceFallbackReason;
}

/** {@link VoiceCall.voice} before the agent reports anything. */
const NO_FALLBACK: VoiceStatus = Object.freeze({ fallback: false });

/** Events of a {@link VoiceCall}, by name and payload. */
export interface CallEvents {
  /** A chat message to render. */
  message: CallMessage;
  /** The agent's state changed (`listening`, `thinking`, `speaking`, ...). */
  agentState: AgentState;
  /** An interim transcript of the caller's speech, replaced by the next one. */
  interim: string;
  /**
   * The agent's cloning engine could not be used: it now speaks in its standard (embedded)
   * voice. The call goes on; showing a short notice is optional. Emitted again if the
   * agent reports another reason.
   */
  voiceFallback: VoiceFallback;
  /** The cloned voice is back after a `voiceFallback`. */
  voiceRestored: VoiceRestored;
  /**
   * The agent is handing the caller over to a person (its `transfer_to_human` tool): it
   * says its transfer message next and then ends the call (end reason `transferred`).
   * Open a live chat, show a phone number or pass the summary to a colleague.
   */
  handoff: Handoff;
  /** The call's connection state changed. */
  connectionState: ConnectionState;
  /** The agent's audio started playing (an {@link AgentAudio}) or ended (`null`). */
  agentAudio: AgentAudio | null;
  /** {@link VoiceCall.agentAudioTrack} changed (e.g. to meter the agent's voice). */
  agentAudioTrack: MediaStreamTrack | undefined;
  /** {@link VoiceCall.microphoneTrack} changed: the microphone was published, replaced or stopped. */
  microphoneTrack: MediaStreamTrack | undefined;
  /**
   * Something went wrong that no awaited call could report: an unexpected disconnect
   * (`disconnected`), or the agent leaving a call that is still up (`agent_left`: its
   * worker stopped; the platform then ends the call, which follows as `disconnected`).
   */
  error: VocableError;
}

/** Settings shared by every form of {@link CallOptions}. */
export interface CallOptionsBase {
  /** Publish the microphone on connect. Default `true`; `false` makes a text-only call. */
  microphone?: boolean;
  /**
   * How long a typed message sent before the agent joined the room waits for it, in
   * milliseconds, before {@link VoiceCall.sendText} rejects with `agent_unavailable`.
   * Default 15,000.
   */
  agentJoinTimeoutMs?: number;
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
  sessionUrl?: never;
  sessionRequest?: never;
  getSession?: never;
}

/** Credentials fetched from the customer's own backend route when the call connects. */
export interface CallWithSessionUrl extends CallOptionsBase {
  /** The customer's backend route (it holds the API key); POSTed with {@link CallWithSessionUrl.sessionRequest}. */
  sessionUrl: string;
  /** JSON body for `sessionUrl`; default `{}`. */
  sessionRequest?: unknown;
  session?: never;
  getSession?: never;
}

/** Credentials supplied by a function of the app's own, called when the call connects. */
export interface CallWithGetSession extends CallOptionsBase {
  /** Returns `{token, livekit_url}` or the whole `{success, message, data}` envelope. */
  getSession: SessionProvider;
  session?: never;
  sessionUrl?: never;
  sessionRequest?: never;
}

/** Options of {@link createCall}: one of `session`, `sessionUrl` or `getSession`, plus shared settings. */
export type CallOptions = CallWithSession | CallWithSessionUrl | CallWithGetSession;

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
  private readonly outbox: Outbox;
  private agentTrack: MediaStreamTrack | undefined;
  private micTrack: MediaStreamTrack | undefined;
  /** The LiveKit track behind {@link VoiceCall.microphoneTrack}, kept to stop it even after the room forgot it. */
  private micLocalTrack: LocalTrack | undefined;
  private voiceStatus: VoiceStatus = NO_FALLBACK;
  private lastHandoff: Handoff | null = null;
  private ending = false;

  constructor(options: CallOptions) {
    super();
    this.options = options;
    this.outbox = new Outbox({
      timeoutMs: options.agentJoinTimeoutMs ?? AGENT_JOIN_TIMEOUT_MS,
      publish: (text) => this.publishTyped(text),
      onDrop: (text) => removeOne(this.pendingTyped, text),
    });
  }

  /** The current connection state. */
  get state(): ConnectionState {
    return this.currentState;
  }

  /** The underlying LiveKit room while connected, for advanced use. */
  get room(): Room | undefined {
    return this.currentRoom;
  }

  /** The agent's voice as a `MediaStreamTrack` (e.g. for a level meter), while it is subscribed. */
  get agentAudioTrack(): MediaStreamTrack | undefined {
    return this.agentTrack;
  }

  /** The caller's microphone as a `MediaStreamTrack` while it is published (muted or not). */
  get microphoneTrack(): MediaStreamTrack | undefined {
    return this.micTrack;
  }

  /**
   * Which voice the agent speaks in: `{fallback: true, voiceModel, reason}` after a
   * `voiceFallback` event, `{fallback: false, ...}` otherwise. A new object on each
   * change, so it can be compared by identity.
   */
  get voice(): VoiceStatus {
    return this.voiceStatus;
  }

  /** The agent's last `handoff` of this call, or `null` if it handed nothing over. */
  get handoff(): Handoff | null {
    return this.lastHandoff;
  }

  /** Whether the microphone is published and not muted. */
  get microphoneEnabled(): boolean {
    return this.currentRoom?.localParticipant.isMicrophoneEnabled ?? false;
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
      let publication: LocalTrackPublication | undefined;
      try {
        publication = await room.localParticipant.setMicrophoneEnabled(true);
      } catch (error) {
        if (!this.ending) this.emit("error", microphoneError(error));
        return;
      }
      // end() during getUserMedia: the track arrived after the room was left, stop it here.
      if (this.ending) publication?.track?.stop();
      else this.refreshMicrophoneTrack();
    }
  }

  /**
   * Sends a typed message to the agent and emits it at once as a `message` with source
   * `typed`; the agent's echo of the same text is dropped. Blank text is ignored.
   *
   * Before the agent has joined the room the message is held (LiveKit would drop it) and
   * published when it joins, in the order sent; the promise resolves once it is published.
   *
   * @throws {@link VocableError} `not_connected`, `send_failed`, or `agent_unavailable`
   *   when the agent did not join within `agentJoinTimeoutMs`.
   */
  async sendText(text: string): Promise<void> {
    const trimmed = text.trim();
    if (!trimmed) return;
    const room = this.liveRoom();
    this.pendingTyped.push(trimmed);
    this.emit("message", { role: "user", text: trimmed, source: "typed" });
    // LiveKit drops data for participants not yet in the room: wait for the agent, in order.
    if (this.outbox.busy || room.remoteParticipants.size === 0) return this.outbox.hold(trimmed);
    await this.publishTyped(trimmed);
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
    } finally {
      this.refreshMicrophoneTrack();
    }
  }

  /** Starts audio playback from a user gesture, for browsers that blocked autoplay. */
  async startAudio(): Promise<void> {
    await this.currentRoom?.startAudio();
  }

  /**
   * Hangs up: stops the microphone (the browser's indicator turns off), leaves the room and
   * releases its resources. Messages still waiting for the agent reject with `not_connected`.
   * Safe to call twice.
   */
  async end(): Promise<void> {
    if (this.ending) return;
    this.ending = true;
    const room = this.currentRoom;
    if (room) {
      try {
        await room.localParticipant.setMicrophoneEnabled(false);
      } catch {
        // Stopped below either way.
      }
      this.stopMicrophone(room);
      await room.disconnect();
      this.release(room);
    }
    this.setState("disconnected");
  }

  private async resolveSession(): Promise<SessionCredentials> {
    const options = this.options;
    if (options.getSession !== undefined) return requestSession(options.getSession);
    if (options.sessionUrl !== undefined) {
      return fetchSession(options.sessionUrl, options.sessionRequest ?? {}, options.fetch);
    }
    return readSession(options.session);
  }

  /** Publishes one typed message now. */
  private async publishTyped(text: string): Promise<void> {
    const room = this.currentRoom;
    if (!room) {
      removeOne(this.pendingTyped, text);
      throw new VocableError("not_connected", "The call ended before the message was sent");
    }
    try {
      await room.localParticipant.publishData(encodeUserText(text), {
        reliable: true,
        topic: TOPIC_USER_TEXT,
      });
    } catch (error) {
      removeOne(this.pendingTyped, text);
      throw new VocableError("send_failed", "Could not send the message", { cause: error });
    }
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

  /** Every room event the call follows and its handler: attached by `listen`, detached by `release`. */
  private roomHandlers(): ReadonlyArray<readonly [RoomEvent, (...args: never[]) => void]> {
    return [
      [RoomEvent.DataReceived, this.onData],
      [RoomEvent.ParticipantConnected, this.onParticipantConnected],
      [RoomEvent.ParticipantDisconnected, this.onParticipantDisconnected],
      [RoomEvent.TrackSubscribed, this.onTrackSubscribed],
      [RoomEvent.TrackUnsubscribed, this.onTrackUnsubscribed],
      [RoomEvent.LocalTrackPublished, this.onLocalTrackChanged],
      [RoomEvent.LocalTrackUnpublished, this.onLocalTrackChanged],
      [RoomEvent.ActiveDeviceChanged, this.onLocalTrackChanged],
      [RoomEvent.SignalReconnecting, this.onReconnecting],
      [RoomEvent.Reconnecting, this.onReconnecting],
      [RoomEvent.Reconnected, this.onReconnected],
      [RoomEvent.Disconnected, this.onDisconnected],
    ];
  }

  private listen(room: Room): void {
    for (const [event, handler] of this.roomHandlers()) room.on(event, handler as never);
  }

  /** Stops listening to `room` and frees everything tied to it, the microphone included. */
  private release(room: Room): void {
    for (const [event, handler] of this.roomHandlers()) room.off(event, handler as never);
    for (const track of [...this.audio.keys()]) this.detachAudio(track);
    this.stopMicrophone(room);
    this.outbox.rejectAll(new VocableError("not_connected", "The call ended before the message was sent"));
    this.pendingTyped.length = 0;
    if (this.currentRoom === room) this.currentRoom = undefined;
  }

  /** Stops the local microphone track so the browser releases the device (and its indicator). */
  private stopMicrophone(room: Room): void {
    room.localParticipant.getTrackPublication(Track.Source.Microphone)?.track?.stop();
    this.micLocalTrack?.stop();
    this.setMicrophoneTrack(undefined);
  }

  private refreshMicrophoneTrack(): void {
    const room = this.currentRoom;
    this.setMicrophoneTrack(room?.localParticipant.getTrackPublication(Track.Source.Microphone)?.track);
  }

  private setMicrophoneTrack(track: LocalTrack | undefined): void {
    if (track) this.micLocalTrack = track;
    // The MediaStreamTrack changes on its own when LiveKit restarts the track (device switch).
    const media = track?.mediaStreamTrack;
    if (media === this.micTrack) return;
    this.micTrack = media;
    this.emit("microphoneTrack", media);
  }

  private setAgentTrack(track: MediaStreamTrack | undefined): void {
    if (track === this.agentTrack) return;
    this.agentTrack = track;
    this.emit("agentAudioTrack", track);
  }

  private readonly onParticipantConnected = (): void => {
    void this.outbox.flush();
  };

  private readonly onParticipantDisconnected = (
    participant: RemoteParticipant,
    reason?: DisconnectReason,
  ): void => {
    // While reconnecting LiveKit unwinds every participant: that is `reconnecting`, not
    // the agent leaving. A deleted room is reported by `disconnected` alone.
    if (this.ending || this.currentState !== "connected" || !participant.isAgent) return;
    if (reason === DisconnectReason.ROOM_DELETED) return;
    const why = reason === undefined ? "" : ` (${DisconnectReason[reason] ?? String(reason)})`;
    this.emit("error", new VocableError("agent_left", `The agent left the call${why}`));
  };

  private readonly onLocalTrackChanged = (): void => {
    this.refreshMicrophoneTrack();
  };

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
    switch (frame?.kind) {
      case "agent_state":
        this.emit("agentState", frame.state);
        break;
      case "interim":
        this.emit("interim", frame.text);
        break;
      case "voice_fallback":
        this.voiceStatus = Object.freeze({ fallback: true, voiceModel: frame.voiceModel, reason: frame.reason });
        this.emit("voiceFallback", { voiceModel: frame.voiceModel, reason: frame.reason });
        break;
      case "voice_restored":
        // Only news after a fallback: the cloned voice was never gone otherwise.
        if (!this.voiceStatus.fallback) break;
        this.voiceStatus = Object.freeze({ fallback: false, voiceModel: frame.voiceModel });
        this.emit("voiceRestored", { voiceModel: frame.voiceModel });
        break;
      case "handoff":
        this.lastHandoff = Object.freeze({ reason: frame.reason, summary: frame.summary });
        this.emit("handoff", this.lastHandoff);
        break;
    }
  }

  private readonly onTrackSubscribed = (track: RemoteTrack): void => {
    if (track.kind !== Track.Kind.Audio || this.audio.has(track)) return;
    const element = track.attach();
    element.autoplay = true;
    const container = this.options.audioContainer === undefined ? globalThis.document?.body : this.options.audioContainer;
    container?.appendChild(element);
    this.audio.set(track, element);
    this.emit("agentAudio", { track, element });
    this.setAgentTrack(track.mediaStreamTrack);
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
    // Another agent audio track may still be playing; expose the latest one.
    this.setAgentTrack([...this.audio.keys()].at(-1)?.mediaStreamTrack);
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
