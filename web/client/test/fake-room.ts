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

export class FakeLocalParticipant {
  readonly published: PublishedData[] = [];
  readonly microphoneCalls: boolean[] = [];
  microphoneEnabled = false;
  failMicrophone = false;
  failPublish = false;

  async setMicrophoneEnabled(enabled: boolean): Promise<undefined> {
    this.microphoneCalls.push(enabled);
    if (this.failMicrophone) throw new Error("NotAllowedError");
    this.microphoneEnabled = enabled;
    return undefined;
  }

  async publishData(data: Uint8Array, options: { reliable?: boolean; topic?: string }): Promise<void> {
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

export class FakeRoom {
  readonly localParticipant = new FakeLocalParticipant();
  connectedWith: { url: string; token: string; opts: RoomConnectOptions | undefined } | undefined;
  disconnectCalls = 0;
  failConnect = false;
  private readonly handlers = new Map<string, Set<Handler>>();

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
  }

  async disconnect(): Promise<void> {
    this.disconnectCalls += 1;
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
