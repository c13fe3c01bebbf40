import { useEffect, useState } from "react";

/** Options of {@link useAudioLevel}. */
export interface AudioLevelOptions {
  /**
   * Multiplies the RMS before clipping to 1. Default 3: WebRTC normalises speech to
   * roughly 0.1 RMS, which would otherwise barely move a meter.
   */
  gain?: number;
}

const DEFAULT_GAIN = 3;
/** Analyser window; 1024 samples is about 21 ms at 48 kHz, one animation frame or so. */
const FFT_SIZE = 1024;

type AudioContextConstructor = new () => AudioContext;

function audioContextClass(): AudioContextConstructor | undefined {
  const scope = globalThis as { AudioContext?: AudioContextConstructor; webkitAudioContext?: AudioContextConstructor };
  return scope.AudioContext ?? scope.webkitAudioContext;
}

function rms(samples: Float32Array): number {
  let sum = 0;
  for (const sample of samples) sum += sample * sample;
  return samples.length ? Math.sqrt(sum / samples.length) : 0;
}

/**
 * Starts metering `track`; returns the function that stops it, or `undefined` where the
 * browser (or test environment) has no Web Audio.
 */
function meter(track: MediaStreamTrack, gain: number, onLevel: (level: number) => void): (() => void) | undefined {
  const AudioContextClass = audioContextClass();
  if (!AudioContextClass || typeof MediaStream === "undefined" || typeof requestAnimationFrame !== "function") {
    return undefined;
  }
  let context: AudioContext;
  try {
    context = new AudioContextClass();
  } catch {
    return undefined; // Too many contexts, or blocked: a meter is not worth an error.
  }
  let source: MediaStreamAudioSourceNode;
  let analyser: AnalyserNode;
  try {
    source = context.createMediaStreamSource(new MediaStream([track]));
    analyser = context.createAnalyser();
    analyser.fftSize = FFT_SIZE;
    source.connect(analyser);
  } catch {
    void context.close().catch(() => undefined); // e.g. the track already ended
    return undefined;
  }
  // A context created outside a user gesture may start suspended; meter once it may run.
  void context.resume().catch(() => undefined);
  const samples = new Float32Array(analyser.fftSize);
  let frame = requestAnimationFrame(function sample() {
    analyser.getFloatTimeDomainData(samples);
    // Two decimals: React skips the render when the value did not change.
    onLevel(Math.round(Math.min(1, rms(samples) * gain) * 100) / 100);
    frame = requestAnimationFrame(sample);
  });
  return () => {
    cancelAnimationFrame(frame);
    source.disconnect();
    analyser.disconnect();
    void context.close().catch(() => undefined);
  };
}

/**
 * The loudness of an audio track as a number from 0 to 1, for a level meter: the RMS of
 * the track's waveform (times `gain`, clipped to 1), sampled from a Web Audio
 * `AnalyserNode` once per animation frame and rounded to two decimals.
 *
 * Returns 0 when there is no track or no Web Audio. The audio graph is torn down when the
 * track changes and on unmount.
 */
export function useAudioLevel(track: MediaStreamTrack | undefined, options: AudioLevelOptions = {}): number {
  const gain = options.gain ?? DEFAULT_GAIN;
  const [level, setLevel] = useState(0);
  useEffect(() => {
    if (!track) return undefined;
    const stop = meter(track, gain, setLevel);
    return () => {
      stop?.();
      setLevel(0);
    };
  }, [track, gain]);
  return track ? level : 0;
}
