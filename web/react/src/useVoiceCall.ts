import {
  createCall,
  VocableError,
  type AgentState,
  type CallMessage,
  type CallOptions,
  type ConnectionState,
  type Handoff,
  type VoiceCall,
  type VoiceStatus,
} from "@vocable/client";
import { useCallback, useEffect, useRef, useState } from "react";
import { useLatest } from "./useLatest.js";

/** Callbacks of {@link useVoiceCall}, called as the events happen (not after a render). */
export interface VoiceCallCallbacks {
  /** A chat message arrived or was typed. */
  onMessage?: (message: CallMessage) => void;
  /** The connection state changed. */
  onStateChange?: (state: ConnectionState) => void;
  /** An error was set on {@link VoiceCallControls.error}. */
  onError?: (error: VocableError) => void;
  /**
   * The agent is handing the caller over to a person (its `transfer_to_human` tool): it
   * says its transfer message next and ends the call. Open a live chat, show a phone
   * number, or pass the summary on.
   */
  onHandoff?: (handoff: Handoff) => void;
}

/**
 * Options of {@link useVoiceCall}: the client's `CallOptions` (one of `session`,
 * `sessionUrl` + `sessionRequest`, or `getSession`) plus callbacks. Read when
 * {@link VoiceCallControls.start} is called, so changing them affects the next call.
 */
export type UseVoiceCallOptions = CallOptions & VoiceCallCallbacks;

/** What {@link useVoiceCall} returns. */
export interface VoiceCallControls {
  /** Connection state of the current call; `idle` before the first start. */
  state: ConnectionState;
  /** The conversation of the current call, oldest first. */
  messages: CallMessage[];
  /** The agent's last reported state (`listening`, `thinking`, `speaking`, ...), if any. */
  agentState: AgentState | null;
  /** The caller's interim transcript, cleared when the final one arrives. */
  interim: string;
  /**
   * Which voice the agent speaks in (the client's `VoiceCall.voice`): `fallback` is `true`
   * while its cloning engine cannot be used and it speaks in its standard voice. Back to
   * `{fallback: false}` when the call ends or a new one starts.
   */
  voice: VoiceStatus;
  /**
   * The agent's handoff to a person (`{reason, summary}`), or `null`. Kept after the call
   * ends (a handoff ends it), cleared by `start()`.
   */
  handoff: Handoff | null;
  /** The last error of the current call, cleared by `start()`. */
  error: VocableError | null;
  /** Whether the microphone is published and unmuted. */
  microphoneEnabled: boolean;
  /** The agent's voice, for a level meter. */
  agentAudioTrack: MediaStreamTrack | undefined;
  /** The caller's microphone, for a level meter. */
  microphoneTrack: MediaStreamTrack | undefined;
  /** The current `VoiceCall`, for anything the hook does not cover. */
  call: VoiceCall | null;
  /** Starts a new call (a new `VoiceCall`); does nothing while one is active. Never rejects. */
  start: () => Promise<void>;
  /** Ends the current call; the conversation stays visible. */
  end: () => Promise<void>;
  /** Sends a typed message; failures land in `error`. Never rejects. */
  sendText: (text: string) => Promise<void>;
  /** Mutes or unmutes the microphone; failures land in `error`. Never rejects. */
  setMicrophoneEnabled: (enabled: boolean) => Promise<void>;
  /** Resumes audio playback from a click, where the browser blocked autoplay. */
  startAudio: () => Promise<void>;
}

const ACTIVE_STATES: ReadonlySet<ConnectionState> = new Set(["connecting", "connected", "reconnecting"]);

/** {@link VoiceCallControls.voice} outside a call, and before the agent reports a fallback. */
const NO_FALLBACK: VoiceStatus = Object.freeze({ fallback: false });

function asVocableError(error: unknown): VocableError {
  if (error instanceof VocableError) return error;
  return new VocableError("invalid_state", error instanceof Error ? error.message : String(error), { cause: error });
}

function callOptionsOf(options: UseVoiceCallOptions): CallOptions {
  const { onMessage: _message, onStateChange: _state, onError: _error, onHandoff: _handoff, ...callOptions } = options;
  return callOptions;
}

/**
 * A Vocable voice call as React state: connection state, the conversation, the agent's
 * state, errors and the audio tracks, plus stable `start` / `end` / `sendText` /
 * `setMicrophoneEnabled` functions. Each `start()` creates a new `VoiceCall` with the
 * options of the latest render; the call is ended when the component unmounts.
 */
export function useVoiceCall(options: UseVoiceCallOptions): VoiceCallControls {
  const latest = useLatest(options);
  const callRef = useRef<VoiceCall | null>(null);
  const unsubscribeRef = useRef<(() => void) | null>(null);

  const [call, setCall] = useState<VoiceCall | null>(null);
  const [state, setState] = useState<ConnectionState>("idle");
  const [messages, setMessages] = useState<CallMessage[]>([]);
  const [agentState, setAgentState] = useState<AgentState | null>(null);
  const [interim, setInterim] = useState("");
  const [voice, setVoice] = useState<VoiceStatus>(NO_FALLBACK);
  const [handoff, setHandoff] = useState<Handoff | null>(null);
  const [error, setError] = useState<VocableError | null>(null);
  const [microphoneEnabled, setMicrophoneOn] = useState(false);
  const [agentAudioTrack, setAgentAudioTrack] = useState<MediaStreamTrack | undefined>(undefined);
  const [microphoneTrack, setMicrophoneTrack] = useState<MediaStreamTrack | undefined>(undefined);

  const report = useCallback(
    (target: VoiceCall, problem: unknown): void => {
      if (callRef.current !== target) return; // a replaced or unmounted call
      const vocableError = asVocableError(problem);
      setError(vocableError);
      latest.current.onError?.(vocableError);
    },
    [latest],
  );

  const subscribe = useCallback(
    (target: VoiceCall): (() => void) => {
      const unsubscribers = [
        target.on("connectionState", (next) => {
          setState(next);
          if (next === "disconnected") {
            setAgentState(null);
            setInterim("");
            setVoice(NO_FALLBACK);
            setMicrophoneOn(false);
          }
          latest.current.onStateChange?.(next);
        }),
        target.on("message", (message) => {
          setMessages((previous) => [...previous, message]);
          if (message.source === "speech") setInterim("");
          latest.current.onMessage?.(message);
        }),
        target.on("agentState", setAgentState),
        target.on("interim", setInterim),
        target.on("voiceFallback", () => setVoice(target.voice)),
        target.on("voiceRestored", () => setVoice(target.voice)),
        target.on("handoff", (next) => {
          setHandoff(next);
          latest.current.onHandoff?.(next);
        }),
        target.on("agentAudioTrack", (track) => setAgentAudioTrack(() => track)),
        target.on("microphoneTrack", (track) => {
          setMicrophoneTrack(() => track);
          setMicrophoneOn(target.microphoneEnabled);
        }),
        target.on("error", (problem) => report(target, problem)),
      ];
      return () => {
        for (const unsubscribe of unsubscribers) unsubscribe();
      };
    },
    [latest, report],
  );

  const start = useCallback(async (): Promise<void> => {
    const previous = callRef.current;
    if (previous && ACTIVE_STATES.has(previous.state)) return;
    unsubscribeRef.current?.();

    const next = createCall(callOptionsOf(latest.current));
    callRef.current = next;
    setCall(next);
    setState(next.state);
    setMessages([]);
    setAgentState(null);
    setInterim("");
    setVoice(NO_FALLBACK);
    setHandoff(null);
    setError(null);
    setMicrophoneOn(false);
    setAgentAudioTrack(undefined);
    setMicrophoneTrack(undefined);
    unsubscribeRef.current = subscribe(next);

    try {
      await next.connect();
      if (callRef.current === next) setMicrophoneOn(next.microphoneEnabled);
    } catch (problem) {
      report(next, problem);
    }
  }, [latest, report, subscribe]);

  const end = useCallback(async (): Promise<void> => {
    await callRef.current?.end();
  }, []);

  const sendText = useCallback(
    async (text: string): Promise<void> => {
      const target = callRef.current;
      if (!target) {
        const problem = new VocableError("not_connected", "The call is not connected");
        setError(problem);
        latest.current.onError?.(problem);
        return;
      }
      try {
        await target.sendText(text);
      } catch (problem) {
        // A message cut off by the call ending says nothing new: the state (and any
        // `disconnected` error) already does.
        if (problem instanceof VocableError && problem.code === "not_connected" && target.state === "disconnected") {
          return;
        }
        report(target, problem);
      }
    },
    [latest, report],
  );

  const setMicrophoneEnabled = useCallback(
    async (enabled: boolean): Promise<void> => {
      const target = callRef.current;
      if (!target) return;
      try {
        await target.setMicrophoneEnabled(enabled);
      } catch (problem) {
        report(target, problem);
      } finally {
        if (callRef.current === target) setMicrophoneOn(target.microphoneEnabled);
      }
    },
    [report],
  );

  const startAudio = useCallback(async (): Promise<void> => {
    await callRef.current?.startAudio();
  }, []);

  useEffect(
    () => () => {
      // Unmount: stop listening first so nothing updates an unmounted component.
      unsubscribeRef.current?.();
      unsubscribeRef.current = null;
      const current = callRef.current;
      callRef.current = null;
      void current?.end();
    },
    [],
  );

  return {
    state,
    messages,
    agentState,
    interim,
    voice,
    handoff,
    error,
    microphoneEnabled,
    agentAudioTrack,
    microphoneTrack,
    call,
    start,
    end,
    sendText,
    setMicrophoneEnabled,
    startAudio,
  };
}
