/// <reference lib="dom" />
/**
 * The decryption page: pick or drop an envelope file (or open `?src=URL`),
 * read its header without a key, paste the data key, decrypt in the page,
 * and save the plaintext. The download link is made only after the whole
 * message verified; on any failure the page shows the error's code, message
 * and hint and offers nothing to save.
 *
 * Bundled by `scripts/build_web.ts` into `dist/app.js`.
 *
 * @module
 */
import { decryptStream, EnvelopeError, type HeaderInfo, inspect, isEnvelopeError, RawDataKey } from "../browser.ts";

/** Where the ciphertext comes from. */
type Source =
  | { readonly kind: "file"; readonly file: File; readonly name: string }
  | { readonly kind: "url"; readonly url: string; readonly name: string };

/** The page's states, mirrored on `<body data-state>` for styling and tests. */
type State = "idle" | "reading" | "ready" | "decrypting" | "done" | "error";

const SUFFIX = ".envl";

function byId<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (e === null) throw new Error(`The page is missing #${id}`);
  return e as T;
}

const ui = {
  file: byId<HTMLInputElement>("file"),
  drop: byId<HTMLLabelElement>("drop"),
  source: byId<HTMLParagraphElement>("source"),
  headerSection: byId<HTMLElement>("header-section"),
  header: byId<HTMLDListElement>("header"),
  key: byId<HTMLTextAreaElement>("key"),
  decrypt: byId<HTMLButtonElement>("decrypt"),
  status: byId<HTMLParagraphElement>("status"),
  error: byId<HTMLDivElement>("error"),
  result: byId<HTMLParagraphElement>("result"),
};

let source: Source | null = null;
let busy = false;
let outputUrl: string | null = null;
/** Bumped on every new choice, so work still running for an old file is dropped. */
let generation = 0;
/** The reader of a decryption in progress, cancelled when another file is chosen. */
let running: ReadableStreamDefaultReader<Uint8Array> | null = null;

function setState(state: State): void {
  document.body.dataset.state = state;
}

function setStatus(text: string): void {
  ui.status.textContent = text;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

function outputName(name: string): string {
  const base = name.split("/").pop() || "decrypted";
  if (base.endsWith(SUFFIX) && base.length > SUFFIX.length) return base.slice(0, -SUFFIX.length);
  return `${base}.decrypted`;
}

/** Removes any offered download and revokes its blob URL. */
function clearResult(): void {
  ui.result.replaceChildren();
  ui.result.hidden = true;
  if (outputUrl !== null) {
    URL.revokeObjectURL(outputUrl);
    outputUrl = null;
  }
}

function clearError(): void {
  ui.error.replaceChildren();
  ui.error.hidden = true;
}

/** Shows an error plainly: its stable code, its message, and what to do next. */
function showError(e: unknown, action: string): void {
  clearResult();
  const box = ui.error;
  box.replaceChildren();
  const head = document.createElement("p");
  const code = document.createElement("span");
  code.className = "code";
  const message = document.createElement("span");
  message.className = "message";
  let hint: string | undefined;
  if (isEnvelopeError(e)) {
    code.textContent = e.code;
    message.textContent = e.message;
    hint = e.hint;
  } else if (e instanceof Error) {
    code.textContent = e.name;
    message.textContent = `${action} failed: ${e.message}`;
  } else {
    code.textContent = "Error";
    message.textContent = `${action} failed: ${String(e)}`;
  }
  head.append(code, " ", message);
  box.append(head);
  if (hint !== undefined) {
    const p = document.createElement("p");
    p.className = "hint";
    p.textContent = `Next step: ${hint}`;
    box.append(p);
  }
  box.hidden = false;
  setStatus("");
  setState("error");
}

function addRow(dt: string, dd: Node | string): void {
  const t = document.createElement("dt");
  t.textContent = dt;
  const d = document.createElement("dd");
  d.append(dd);
  ui.header.append(t, d);
}

function code(text: string): HTMLElement {
  const c = document.createElement("code");
  c.textContent = text;
  return c;
}

function showHeader(info: HeaderInfo): void {
  ui.header.replaceChildren();
  addRow("Format", `${info.format} v${info.version}`);
  addRow("Suite", `${info.suite}: ${info.suiteName}`);
  addRow("Chunk size", `${info.chunkSize} bytes`);
  const pairs = Object.entries(info.context);
  if (pairs.length === 0) {
    addRow("Context", "(none)");
  } else {
    const ul = document.createElement("ul");
    ul.id = "context";
    for (const [k, v] of pairs) {
      const li = document.createElement("li");
      li.append(code(`${k}=${JSON.stringify(v)}`));
      ul.append(li);
    }
    addRow("Context", ul);
  }
  const keys = document.createElement("ul");
  keys.id = "wrapped-keys";
  for (const k of info.keys) {
    const li = document.createElement("li");
    li.append(code(`${k.provider}:${k.keyId || "(no id)"}`), ` (${k.wrappedBytes} bytes wrapped)`);
    keys.append(li);
  }
  addRow("Wrapped keys", keys);
  addRow("Header length", `${info.headerLength} bytes`);
  ui.headerSection.hidden = false;
}

function updateButton(): void {
  ui.decrypt.disabled = busy || source === null || ui.key.value.trim() === "";
}

async function fetchBody(url: string): Promise<ReadableStream<Uint8Array>> {
  const res = await fetch(url);
  if (!res.ok || res.body === null) {
    await res.body?.cancel();
    throw new EnvelopeError("IO_FAILED", `Fetching ${url} failed: the server answered ${res.status}`, {
      hint: "check the address, or download the file and pick it here",
    });
  }
  return res.body;
}

/** A new file or URL was chosen: read and show its header. */
async function choose(next: Source): Promise<void> {
  const mine = ++generation;
  source = next;
  // A decryption of the previous file stops; it notices the new generation and offers nothing.
  running?.cancel().catch(() => {});
  clearResult();
  clearError();
  ui.header.replaceChildren();
  ui.headerSection.hidden = true;
  ui.source.replaceChildren(
    next.kind === "file" ? "File: " : "From: ",
    code(next.kind === "file" ? next.name : next.url),
    next.kind === "file" ? ` (${formatBytes(next.file.size)})` : "",
  );
  ui.source.hidden = false;
  setState("reading");
  setStatus("Reading the header…");
  updateButton();
  try {
    const info = await inspect(next.kind === "file" ? next.file : await fetchBody(next.url));
    if (mine !== generation) return;
    showHeader(info);
    setStatus("");
    setState("ready");
  } catch (e) {
    if (mine !== generation) return;
    showError(e, "Reading the header");
  }
}

/** Thrown inside {@linkcode decryptNow} when another file was chosen meanwhile. */
class Superseded extends Error {}

/** Decrypts the chosen source; offers the plaintext only once all of it verified. */
async function decryptNow(): Promise<void> {
  if (busy || source === null) return;
  const src = source;
  const mine = generation;
  busy = true;
  updateButton();
  clearResult();
  clearError();
  setState("decrypting");
  setStatus("Decrypting…");
  let key: RawDataKey | undefined;
  let parts: Uint8Array[] = [];
  try {
    key = await RawDataKey.create(ui.key.value);
    const total = src.kind === "file" ? src.file.size : 0;
    const body = src.kind === "file" ? src.file.stream() : await fetchBody(src.url);
    const reader = body.pipeThrough(decryptStream({ keys: key })).getReader();
    running = reader;
    let n = 0;
    for (;;) {
      const { value, done } = await reader.read();
      // Another file was chosen (which also cancels this reader, so `done` says nothing here).
      if (mine !== generation) throw new Superseded();
      if (done) break;
      parts.push(value);
      n += value.length;
      setStatus(`Decrypting… ${formatBytes(n)}${total > 0 ? ` of about ${formatBytes(total)}` : ""} verified`);
    }
    // The stream ended without an error: every chunk, the last one included, verified.
    const blob = new Blob(parts as BlobPart[], { type: "application/octet-stream" });
    parts = [];
    outputUrl = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.id = "download";
    a.href = outputUrl;
    a.download = outputName(src.name);
    a.textContent = `Save ${a.download} (${formatBytes(blob.size)})`;
    ui.result.replaceChildren("Decrypted and verified. ", a);
    ui.result.hidden = false;
    setStatus("");
    setState("done");
  } catch (e) {
    for (const p of parts) p.fill(0);
    parts = [];
    if (mine === generation && !(e instanceof Superseded)) showError(e, "Decrypting");
  } finally {
    key?.dispose();
    running = null;
    busy = false;
    updateButton();
  }
}

ui.file.addEventListener("change", () => {
  const f = ui.file.files?.[0];
  if (f !== undefined) void choose({ kind: "file", file: f, name: f.name });
});

ui.drop.addEventListener("dragover", (ev) => {
  ev.preventDefault();
  ui.drop.classList.add("over");
});
ui.drop.addEventListener("dragleave", () => ui.drop.classList.remove("over"));
ui.drop.addEventListener("drop", (ev) => {
  ev.preventDefault();
  ui.drop.classList.remove("over");
  const f = ev.dataTransfer?.files?.[0];
  if (f !== undefined) void choose({ kind: "file", file: f, name: f.name });
});

ui.key.addEventListener("input", updateButton);
ui.decrypt.addEventListener("click", () => void decryptNow());

const fromUrl = new URLSearchParams(location.search).get("src");
if (fromUrl !== null && fromUrl !== "") {
  const url = new URL(fromUrl, location.href);
  void choose({ kind: "url", url: url.href, name: decodeURIComponent(url.pathname) });
} else {
  setState("idle");
}
