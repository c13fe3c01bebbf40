import { VocableError } from "./errors.js";

/** Publishes one typed message; rejects with a {@link VocableError}. */
export type PublishText = (text: string) => Promise<void>;

interface HeldMessage {
  text: string;
  resolve: () => void;
  reject: (error: VocableError) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** Settings of an {@link Outbox}. */
export interface OutboxOptions {
  /** How long a message may wait for the agent before it is given up (`agent_unavailable`). */
  timeoutMs: number;
  /** Sends one message; called in order, one at a time. */
  publish: PublishText;
  /** Called with the text of every held message that will never be sent (timeout, call ended). */
  onDrop: (text: string) => void;
}

/**
 * Typed messages waiting for the agent to join the room.
 *
 * LiveKit delivers a data packet only to the participants in the room at that moment, so a
 * message typed before the agent joins would be lost. The outbox holds such messages and
 * publishes them, in order, once {@link Outbox.flush} is called (when a participant joins).
 */
export class Outbox {
  private readonly options: OutboxOptions;
  private readonly held: HeldMessage[] = [];
  private flushing = false;

  constructor(options: OutboxOptions) {
    this.options = options;
  }

  /** Whether a new message must queue behind held ones to keep the order. */
  get busy(): boolean {
    return this.flushing || this.held.length > 0;
  }

  /** Holds `text` until the next flush; resolves when it is published. */
  hold(text: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const message: HeldMessage = {
        text,
        resolve,
        reject,
        timer: setTimeout(() => this.expire(message), this.options.timeoutMs),
      };
      this.held.push(message);
    });
  }

  /** Publishes every held message in order, including any held while flushing. */
  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      for (let message = this.held.shift(); message; message = this.held.shift()) {
        clearTimeout(message.timer);
        try {
          await this.options.publish(message.text);
          message.resolve();
        } catch (error) {
          message.reject(
            error instanceof VocableError
              ? error
              : new VocableError("send_failed", "Could not send the message", { cause: error }),
          );
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Gives up every held message with `error` (e.g. the call ended). */
  rejectAll(error: VocableError): void {
    for (const message of this.held.splice(0)) {
      clearTimeout(message.timer);
      this.options.onDrop(message.text);
      message.reject(error);
    }
  }

  private expire(message: HeldMessage): void {
    const index = this.held.indexOf(message);
    if (index === -1) return;
    this.held.splice(index, 1);
    this.options.onDrop(message.text);
    const seconds = Math.round(this.options.timeoutMs / 100) / 10;
    message.reject(
      new VocableError(
        "agent_unavailable",
        `The agent did not join the call within ${seconds} s; the message was not sent`,
      ),
    );
  }
}
