/**
 * Machine-readable reasons a {@link VocableError} can carry.
 *
 * - `session_request_failed`: the session URL could not be reached (network error), or `getSession` threw.
 * - `session_http_error`: the session URL answered with a non-2xx status.
 * - `session_invalid`: the session (response, `getSession` result or `session` option) lacked `token` or `livekit_url`.
 * - `connect_failed`: joining the LiveKit room failed.
 * - `microphone_unavailable`: the microphone could not be enabled (the call stays up; text still works).
 * - `send_failed`: publishing a typed message failed.
 * - `agent_unavailable`: a typed message waited for the agent to join the room and it did not come in time.
 * - `not_connected`: an operation needs a connected call.
 * - `invalid_state`: `connect()` was called on a call that is not idle.
 * - `disconnected`: the room closed without `end()` being called.
 * - `agent_left`: the agent left while the call was up (its worker stopped); the platform
 *   closes the call record and the room, so `disconnected` follows.
 */
export type VocableErrorCode =
  | "session_request_failed"
  | "session_http_error"
  | "session_invalid"
  | "connect_failed"
  | "microphone_unavailable"
  | "send_failed"
  | "agent_unavailable"
  | "not_connected"
  | "invalid_state"
  | "disconnected"
  | "agent_left";

/** Extra context attached to a {@link VocableError}. */
export interface VocableErrorOptions {
  /** HTTP status of the session response, for `session_http_error`. */
  status?: number;
  /** The underlying error, if any. */
  cause?: unknown;
}

/** The one error type the SDK throws and emits; switch on {@link VocableError.code}. */
export class VocableError extends Error {
  /** Why the operation failed. */
  readonly code: VocableErrorCode;
  /** HTTP status, when the error came from the session URL. */
  readonly status: number | undefined;

  constructor(code: VocableErrorCode, message: string, options: VocableErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "VocableError";
    this.code = code;
    this.status = options.status;
  }
}
