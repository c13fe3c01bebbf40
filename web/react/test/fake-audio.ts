/**
 * Fakes of the Web Audio pieces useAudioLevel touches, and a hand-cranked
 * requestAnimationFrame. jsdom has neither Web Audio nor MediaStream.
 */
import { vi } from "vitest";

export class FakeAnalyserNode {
  fftSize = 2048;
  disconnected = false;
  constructor(private readonly context: FakeAudioContext) {}
  getFloatTimeDomainData(target: Float32Array): void {
    target.fill(this.context.amplitude);
  }
  disconnect(): void {
    this.disconnected = true;
  }
}

export class FakeSourceNode {
  connectedTo: unknown;
  disconnected = false;
  constructor(readonly stream: FakeMediaStream) {}
  connect(node: unknown): void {
    this.connectedTo = node;
  }
  disconnect(): void {
    this.disconnected = true;
  }
}

export class FakeMediaStream {
  constructor(readonly tracks: unknown[]) {}
}

export class FakeAudioContext {
  static readonly instances: FakeAudioContext[] = [];
  /** The constant sample value every analyser reports. */
  amplitude = 0;
  closed = false;
  sources: FakeSourceNode[] = [];
  constructor() {
    FakeAudioContext.instances.push(this);
    this.amplitude = FakeAudioContext.nextAmplitude;
  }
  static nextAmplitude = 0.2;
  createMediaStreamSource(stream: FakeMediaStream): FakeSourceNode {
    const source = new FakeSourceNode(stream);
    this.sources.push(source);
    return source;
  }
  createAnalyser(): FakeAnalyserNode {
    return new FakeAnalyserNode(this);
  }
  async resume(): Promise<void> {}
  async close(): Promise<void> {
    this.closed = true;
  }
}

/** Installs the fakes and a manual animation-frame queue; returns a function running one frame. */
export function installFakeWebAudio(): { frame: () => void; pendingFrames: () => number } {
  FakeAudioContext.instances.length = 0;
  FakeAudioContext.nextAmplitude = 0.2;
  let queue = new Map<number, FrameRequestCallback>();
  let nextId = 1;
  vi.stubGlobal("AudioContext", FakeAudioContext);
  vi.stubGlobal("MediaStream", FakeMediaStream);
  vi.stubGlobal("requestAnimationFrame", (callback: FrameRequestCallback) => {
    const id = nextId++;
    queue.set(id, callback);
    return id;
  });
  vi.stubGlobal("cancelAnimationFrame", (id: number) => {
    queue.delete(id);
  });
  return {
    frame: () => {
      const due = queue;
      queue = new Map();
      for (const callback of due.values()) callback(performance.now());
    },
    pendingFrames: () => queue.size,
  };
}
