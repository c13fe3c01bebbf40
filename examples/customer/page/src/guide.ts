/**
 * A second, independent client: plain `livekit-client`, the calls the public guide uses
 * (`Room`, `publishData` on `voice.user_text` with `reliable: true`, `DataReceived` on
 * `voice.reply`), no Vocable SDK. If this page works, any client written from the guide
 * does.
 */
import { Room, RoomEvent, Track } from "livekit-client";

type Role = "user" | "assistant";

const statusEl = must<HTMLParagraphElement>("status");
const startBtn = must<HTMLButtonElement>("start");
const endBtn = must<HTMLButtonElement>("end");
const list = must<HTMLOListElement>("messages");
const form = must<HTMLFormElement>("composer");
const draft = must<HTMLInputElement>("draft");
const sendBtn = form.querySelector("button") as HTMLButtonElement;

let room: Room | null = null;
// texts we typed and already rendered; their echo on voice.reply is skipped once
let typedAwaitingEcho: string[] = [];

function must<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el as T;
}

function show(role: Role, text: string): void {
  const item = document.createElement("li");
  item.dataset.role = role;
  item.textContent = text;
  list.append(item);
}

function setLive(live: boolean, label: string): void {
  statusEl.textContent = label;
  startBtn.hidden = live;
  endBtn.hidden = !live;
  draft.disabled = !live;
  sendBtn.disabled = !live;
}

async function fetchCredentials(): Promise<{ token: string; livekit_url: string }> {
  const config = (await (await fetch("/api/voice-agent/config")).json()) as { agent: string };
  const resp = await fetch("/api/voice-agent/session", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ agent: config.agent, language: "en" }),
  });
  if (!resp.ok) throw new Error((await resp.text()) || `session failed (${resp.status})`);
  const payload = (await resp.json()) as { data: { token: string; livekit_url: string } };
  return payload.data;
}

function onReply(payload: Uint8Array, topic: string | undefined): void {
  if (topic !== "voice.reply") return;
  let data: { type?: string; text?: string; message?: string };
  try {
    data = JSON.parse(new TextDecoder().decode(payload)) as typeof data;
  } catch {
    return; // not JSON: not for us
  }
  const text = (data.text ?? data.message ?? "").trim();
  if (!text) return;
  if (data.type === "user_text") {
    const at = typedAwaitingEcho.indexOf(text);
    if (at >= 0) {
      typedAwaitingEcho.splice(at, 1);
      return;
    }
    show("user", text);
    return;
  }
  show("assistant", text);
}

async function start(): Promise<void> {
  setLive(false, "Connecting…");
  startBtn.disabled = true;
  const next = new Room({ adaptiveStream: true, dynacast: true });
  next.on(RoomEvent.TrackSubscribed, (track) => {
    if (track.kind !== Track.Kind.Audio) return;
    const audio = track.attach();
    audio.autoplay = true;
    document.body.append(audio);
  });
  next.on(RoomEvent.DataReceived, (payload, _participant, _kind, topic) => onReply(payload, topic));
  next.on(RoomEvent.Disconnected, () => {
    room = null;
    typedAwaitingEcho = [];
    setLive(false, "Call ended");
    startBtn.disabled = false;
  });
  try {
    const { token, livekit_url } = await fetchCredentials();
    await next.connect(livekit_url, token, { autoSubscribe: true });
    await next.localParticipant.setMicrophoneEnabled(true);
    room = next;
    setLive(true, "Connected");
  } catch (error) {
    await next.disconnect();
    setLive(false, `Could not connect: ${String(error)}`);
    startBtn.disabled = false;
  }
}

async function end(): Promise<void> {
  const current = room;
  if (!current) return;
  await current.localParticipant.setMicrophoneEnabled(false);
  await current.disconnect();
}

async function send(text: string): Promise<void> {
  const clean = text.trim();
  if (!clean || !room) return;
  show("user", clean);
  typedAwaitingEcho.push(clean);
  const body = new TextEncoder().encode(JSON.stringify({ type: "user_text", text: clean }));
  await room.localParticipant.publishData(body, { reliable: true, topic: "voice.user_text" });
}

startBtn.addEventListener("click", () => void start());
endBtn.addEventListener("click", () => void end());
form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = draft.value;
  draft.value = "";
  void send(text);
});
