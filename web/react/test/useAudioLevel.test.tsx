import { act, cleanup, renderHook } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { useAudioLevel } from "../src/index.js";
import { FakeAudioContext, FakeMediaStream, installFakeWebAudio } from "./fake-audio.js";

const track = { kind: "audio" } as unknown as MediaStreamTrack;
const otherTrack = { kind: "audio" } as unknown as MediaStreamTrack;

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("useAudioLevel", () => {
  it("is 0 without a track and builds no audio graph", () => {
    installFakeWebAudio();
    const { result } = renderHook(() => useAudioLevel(undefined));
    expect(result.current).toBe(0);
    expect(FakeAudioContext.instances).toEqual([]);
  });

  it("is 0 where there is no AudioContext", () => {
    vi.stubGlobal("AudioContext", undefined);
    const { result } = renderHook(() => useAudioLevel(track));
    expect(result.current).toBe(0);
  });

  it("reports the RMS of the waveform times the gain, once per animation frame", () => {
    const { frame } = installFakeWebAudio();
    const { result } = renderHook(({ gain }) => useAudioLevel(track, { gain }), { initialProps: { gain: 1 } });
    expect(result.current).toBe(0);
    const [context] = FakeAudioContext.instances;
    expect(context!.sources[0]!.stream).toBeInstanceOf(FakeMediaStream);
    expect(context!.sources[0]!.stream.tracks).toEqual([track]);
    act(frame);
    expect(result.current).toBe(0.2); // constant 0.2 samples: RMS 0.2
    context!.amplitude = -0.5;
    act(frame);
    expect(result.current).toBe(0.5);
  });

  it("uses a gain of 3 by default and clips at 1", () => {
    const { frame } = installFakeWebAudio();
    const { result } = renderHook(() => useAudioLevel(track));
    act(frame);
    expect(result.current).toBe(0.6);
    FakeAudioContext.instances[0]!.amplitude = 0.9;
    act(frame);
    expect(result.current).toBe(1);
  });

  it("tears the graph down when the track changes and on unmount", () => {
    const { frame, pendingFrames } = installFakeWebAudio();
    const { result, rerender, unmount } = renderHook(({ t }) => useAudioLevel(t), {
      initialProps: { t: track as MediaStreamTrack | undefined },
    });
    act(frame);
    const first = FakeAudioContext.instances[0]!;
    rerender({ t: otherTrack });
    expect(first.closed).toBe(true);
    expect(first.sources[0]!.disconnected).toBe(true);
    expect(result.current).toBe(0);
    const second = FakeAudioContext.instances[1]!;
    expect(second.closed).toBe(false);
    rerender({ t: undefined });
    expect(second.closed).toBe(true);
    expect(pendingFrames()).toBe(0);
    expect(result.current).toBe(0);
    rerender({ t: track });
    unmount();
    expect(FakeAudioContext.instances[2]!.closed).toBe(true);
    expect(pendingFrames()).toBe(0);
  });
});
