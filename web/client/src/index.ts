/**
 * `@vocable/client`: join a Vocable voice agent from the browser.
 *
 * @packageDocumentation
 */
export {
  VoiceCall,
  createCall,
  type AgentAudio,
  type CallEvents,
  type CallMessage,
  type CallOptions,
  type CallOptionsBase,
  type CallWithGetSession,
  type CallWithSession,
  type CallWithSessionUrl,
  type ConnectionState,
  type Handoff,
  type VoiceFallback,
  type VoiceRestored,
  type VoiceStatus,
} from "./call.js";
export { TypedEmitter, type Listener } from "./emitter.js";
export { VocableError, type VocableErrorCode, type VocableErrorOptions } from "./errors.js";
export {
  TOPIC_EVENTS,
  TOPIC_REPLY,
  TOPIC_USER_TEXT,
  type AgentState,
  type VoiceFallbackReason,
} from "./protocol.js";
export {
  fetchSession,
  readSession,
  requestSession,
  type FetchLike,
  type SessionCredentials,
  type SessionEnvelope,
  type SessionProvider,
} from "./session.js";
