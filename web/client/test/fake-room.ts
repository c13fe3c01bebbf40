/**
 * A fake LiveKit Room: only what the SDK uses, emitting events the way the real one
 * does (same RoomEvent names and argument order). No mocking library.
 */
import { DisconnectReason, RoomEvent, Track, type Room, type RoomConnectOptions } from "livekit-client";

type Handler = (...args: never[]) => void;

export interface PublishedData {
  data: Uint8Array;
  options: { reliable?: boolean; topic?: string };
}

/** The parts of a browser `MediaStreamTrack` the SDK and the UI touch. */
export class FakeMediaStreamTrack {
  readonly kind = "audio";
  readyState: "live" | "ended" = "live";
  enabled = true;
  stop(): void {
    this.readyState = "ended";
  }
}

/** A LiveKit LocalAudioTrack: `stop()` stops the capture, like the real one. */
export class FakeLocalAudioTrack {
  readonly kind = Track.Kind.Audio;
  readonly source = Track.Source.Microphone;
  mediaStreamTrack = new FakeMediaStreamTrack();
  stopCalls = 0;
  stop(): void {
    this.stopCalls += 1;
    this.mediaStreamTrack.stop();
  }
}

export class FakeLocalTrackPublication {
  readonly source = Track.Source.Microphone;
  isMuted = false;
  constructor(readonly track: FakeLocalAudioTrack) {}
}

export class FakeLocalParticipant {
  readonly published: PublishedData[] = [];
  readonly microphoneCalls: boolean[] = [];
  microphoneEnabled = false;
  failMicrophone = false;
  failPublish = false;
  /** When set, publishData waits for this promise (to test ordering). */
  publishGate: Promise<void> | undefined;
  microphone: FakeLocalTrackPublication | undefined;

  constructor(private readonly room: FakeRoom) {}

  get isMicrophoneEnabled(): boolean {
    return this.microphoneEnabled;
  }

  /** Like the real one: publishes a track the first time, then mutes and unmutes it. */
  async setMicrophoneEnabled(enabled: boolean): Promise<FakeLocalTrackPublication | undefined> {
    this.microphoneCalls.push(enabled);
    if (this.failMicrophone) throw new Error("NotAllowedError");
    this.microphoneEnabled = enabled;
    if (enabled && !this.microphone) {
      this.microphone = new FakeLocalTrackPublication(new FakeLocalAudioTrack());
      this.room.emit(RoomEvent.LocalTrackPublished, this.microphone, this);
    } else if (this.microphone) {
      this.microphone.isMuted = !enabled;
      this.microphone.track.mediaStreamTrack.enabled = enabled;
    }
    return this.microphone;
  }

  getTrackPublication(source: Track.Source): FakeLocalTrackPublication | undefined {
    return source === Track.Source.Microphone ? this.microphone : undefined;
  }

  async publishData(data: Uint8Array, options: { reliable?: boolean; topic?: string }): Promise<void> {
    if (this.publishGate) await this.publishGate;
    if (this.failPublish) throw new Error("data channel closed");
    this.published.push({ data, options });
  }
}

export class FakeAudioElement {
  autoplay = false;
  removed = false;
  remove(): void {
    this.removed = true;
  }
}

export class FakeRemoteAudioTrack {
  readonly kind = Track.Kind.Audio;
  readonly mediaStreamTrack = new FakeMediaStreamTrack();
  readonly attached: FakeAudioElement[] = [];
  attach(): FakeAudioElement {
    const element = new FakeAudioElement();
    this.attached.push(element);
    return element;
  }
  detach(element: FakeAudioElement): FakeAudioElement {
    const index = this.attached.indexOf(element);
    if (index !== -1) this.attached.splice(index, 1);
    return element;
  }
}

/** A remote participant; the agent's `isAgent` is true (LiveKit's participant kind AGENT). */
export interface FakeRemoteParticipant {
  identity: string;
  isAgent: boolean;
}

export interface FakeRoomOptions {
  /**
   * Whether the agent is already in the room when the caller joins (default `true`).
   * `false` leaves the room empty until {@link FakeRoom.agentJoins}.
   */
  agentPresent?: boolean;
}

/**
 * Unlike a default Room, `disconnect()` does not stop local tracks (as with
 * `stopLocalTrackOnUnpublish: false`), so tests prove the SDK stops the microphone itself.
 */
export class FakeRoom {
  readonly localParticipant = new FakeLocalParticipant(this);
  readonly remoteParticipants = new Map<string, FakeRemoteParticipant>();
  connectedWith: { url: string; token: string; opts: RoomConnectOptions | undefined } | undefined;
  disconnectCalls = 0;
  failConnect = false;
  private readonly agentPresent: boolean;
  private readonly handlers = new Map<string, Set<Handler>>();

  constructor(options: FakeRoomOptions = {}) {
    this.agentPresent = options.agentPresent ?? true;
  }

  on(event: RoomEvent, handler: Handler): this {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(handler);
    return this;
  }

  off(event: RoomEvent, handler: Handler): this {
    this.handlers.get(event)?.delete(handler);
    return this;
  }

  listenerCount(event: RoomEvent): number {
    return this.handlers.get(event)?.size ?? 0;
  }

  emit(event: RoomEvent, ...args: unknown[]): void {
    for (const handler of [...(this.handlers.get(event) ?? [])]) (handler as (...a: unknown[]) => void)(...args);
  }

  async connect(url: string, token: string, opts?: RoomConnectOptions): Promise<void> {
    if (this.failConnect) throw new Error("could not establish signal connection");
    this.connectedWith = { url, token, opts };
    if (this.agentPresent) this.remoteParticipants.set("agent", { identity: "agent", isAgent: true });
  }

  /** The agent participant joins, as LiveKit reports it: (participant). */
  agentJoins(identity = "agent", isAgent = true): void {
    const participant = { identity, isAgent };
    this.remoteParticipants.set(identity, participant);
    this.emit(RoomEvent.ParticipantConnected, participant);
  }

  /** A remote participant leaves, as LiveKit reports it: (participant, reason?). */
  participantLeaves(identity = "agent", reason?: DisconnectReason): void {
    const participant = this.remoteParticipants.get(identity);
    if (!participant) return;
    this.remoteParticipants.delete(identity);
    this.emit(RoomEvent.ParticipantDisconnected, participant, reason);
  }

  async disconnect(): Promise<void> {
    this.disconnectCalls += 1;
    this.remoteParticipants.clear();
    // The real Room emits Disconnected with CLIENT_INITIATED when the page leaves.
    this.emit(RoomEvent.Disconnected, DisconnectReason.CLIENT_INITIATED);
  }

  async startAudio(): Promise<void> {}

  /** Delivers a data packet the way the real Room does: (payload, participant, kind, topic). */
  receive(topic: string, body: unknown): void {
    const text = typeof body === "string" ? body : JSON.stringify(body);
    this.emit(RoomEvent.DataReceived, new TextEncoder().encode(text), undefined, undefined, topic);
  }

  /** The SDK only touches the members above; the cast is confined to this one place. */
  asRoom(): Room {
    return this as unknown as Room;
  }
}
