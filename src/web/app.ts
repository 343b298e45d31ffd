/// <reference lib="dom" />
/**
 * The decryption page: pick or drop an envelope file (or open `?src=URL`),
 * read its header without a key, get the key (pasted, from a key file, or
 * from a key server), decrypt in the page and save. Where the browser can
 * write files (File System Access), verified chunks stream straight to the
 * chosen file, which is committed only when all of it verified; elsewhere the
 * plaintext is held in memory and offered once all of it verified. On any
 * failure or a cancel the page shows why and leaves nothing saved.
 *
 * Bundled by `scripts/build_web.ts` into `dist/app.js`.
 *
 * @module
 */
import { decryptStream, EnvelopeError, type HeaderInfo, inspect, isEnvelopeError } from "../lib.ts";
import { readHeaderBytes } from "../envelope/inspect.ts";
import { keyFromFile, keyFromServer, type PageKey, pastedKey } from "./key_source.ts";
import { canStreamToDisk, formatBytes, memorySink, pickFileSink, type Sink } from "./save.ts";

/** Where the ciphertext comes from. */
type Source =
  | { readonly kind: "file"; readonly file: File; readonly name: string }
  | { readonly kind: "url"; readonly url: string; readonly name: string };

/** The page's states, mirrored on `<body data-state>` for styling and tests. */
type State = "idle" | "reading" | "ready" | "decrypting" | "done" | "error" | "cancelled";

const SUFFIX = ".envl";
/** Above this, a browser that cannot stream to disk is warned that it will hold the whole plaintext. */
const MEMORY_WARNING_BYTES = 256 * 1024 * 1024;
const SERVER_URL_ITEM = "envelope.keyServer";
const SERVER_TOKEN_ITEM = "envelope.keyServerToken";

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
  key: byId<HTMLInputElement>("key"),
  showKey: byId<HTMLButtonElement>("show-key"),
  keyFile: byId<HTMLInputElement>("key-file"),
  keyFileStatus: byId<HTMLParagraphElement>("key-file-status"),
  server: byId<HTMLInputElement>("key-server"),
  token: byId<HTMLInputElement>("key-token"),
  decrypt: byId<HTMLButtonElement>("decrypt"),
  cancel: byId<HTMLButtonElement>("cancel"),
  saveNote: byId<HTMLParagraphElement>("save-note"),
  sizeWarning: byId<HTMLParagraphElement>("size-warning"),
  progress: byId<HTMLProgressElement>("progress"),
  status: byId<HTMLParagraphElement>("status"),
  error: byId<HTMLDivElement>("error"),
  result: byId<HTMLParagraphElement>("result"),
};

let source: Source | null = null;
/** The header's bytes, kept for a key server. */
let headerBytes: Uint8Array | null = null;
let busy = false;
let outputUrl: string | null = null;
/** Bumped on every new choice, so work still running for an old file is dropped. */
let generation = 0;
/** The reader of a decryption in progress, cancelled when another file is chosen or on Cancel. */
let running: ReadableStreamDefaultReader<Uint8Array> | null = null;
let cancelRequested = false;

function mode(): "paste" | "file" | "server" {
  const checked = document.querySelector<HTMLInputElement>("input[name=key-mode]:checked");
  return (checked?.value ?? "paste") as "paste" | "file" | "server";
}

function setState(state: State): void {
  document.body.dataset.state = state;
}

function setStatus(text: string): void {
  ui.status.textContent = text;
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

/** Next steps for a person in a browser; the library's own hints may name CLI flags. */
const BROWSER_HINTS: Partial<Record<string, string>> = {
  NO_KEY_MATCHED:
    "this key does not open this file: use the data key of this very file, load the key file it was encrypted with, or ask the key server again",
  INVALID_KEY: "a data key is 32 bytes written as 44 characters of base64; paste it whole, or load the key file",
  KEY_LIMIT: "the file lists many keys that did not open; load the key file it was encrypted with",
  SIGNATURE_REQUIRED: "this file is not signed; ask its sender for a signed copy",
  CONTEXT_MISMATCH: "the file was not encrypted for the purpose this page expects; ask its sender",
};

function browserHint(e: EnvelopeError): string | undefined {
  const own = e.hint;
  const cliWords = own !== undefined && /(^|\s)--?[a-z]|`envelope |\benvelope [a-z-]+ /.test(own);
  return BROWSER_HINTS[e.code] ?? (cliWords ? "check that this key belongs to this file, or ask its sender" : own);
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
    hint = browserHint(e);
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

let keyFromFileChoice: { key: PageKey; name: string } | null = null;

function keyReady(): boolean {
  switch (mode()) {
    case "paste":
      return ui.key.value.trim() !== "";
    case "file":
      return keyFromFileChoice !== null;
    case "server":
      return ui.server.value.trim() !== "";
  }
}

function updateButton(): void {
  ui.decrypt.disabled = busy || source === null || !keyReady();
  ui.cancel.hidden = !busy;
  for (const m of ["paste", "file", "server"]) byId(`panel-${m}`).hidden = mode() !== m;
}

async function fetchBody(url: string): Promise<{ body: ReadableStream<Uint8Array>; total: number }> {
  const res = await fetch(url);
  if (!res.ok || res.body === null) {
    await res.body?.cancel();
    throw new EnvelopeError("IO_FAILED", `Fetching ${url} failed: the server answered ${res.status}`, {
      hint: "check the address, or download the file and pick it here",
    });
  }
  return { body: res.body, total: Number(res.headers.get("content-length") ?? 0) || 0 };
}

function showSizeWarning(total: number): void {
  const warn = !canStreamToDisk() && total > MEMORY_WARNING_BYTES;
  ui.sizeWarning.hidden = !warn;
  ui.sizeWarning.textContent = warn
    ? `This browser cannot save straight to disk: the page will hold the whole decrypted file (about ${
      formatBytes(total)
    }) in memory before it offers to save it. For large files use a browser that can (Chrome, Edge).`
    : "";
}

/** A new file or URL was chosen: read and show its header. */
async function choose(next: Source): Promise<void> {
  const mine = ++generation;
  source = next;
  headerBytes = null;
  // A decryption of the previous file stops; it notices the new generation and offers nothing.
  running?.cancel().catch(() => {});
  clearResult();
  clearError();
  ui.header.replaceChildren();
  ui.headerSection.hidden = true;
  ui.progress.hidden = true;
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
    let total = 0;
    let from: Blob | ReadableStream<Uint8Array>;
    if (next.kind === "file") {
      from = next.file;
      total = next.file.size;
    } else {
      ({ body: from, total } = await fetchBody(next.url));
    }
    const bytes = await readHeaderBytes(from);
    const info = await inspect(bytes);
    if (mine !== generation) return;
    headerBytes = bytes.slice(0, info.headerLength);
    showHeader(info);
    showSizeWarning(total);
    setStatus("");
    setState("ready");
  } catch (e) {
    if (mine !== generation) return;
    showError(e, "Reading the header");
  }
}

/** Thrown inside {@linkcode decryptNow} when another file was chosen meanwhile. */
class Superseded extends Error {}
/** Thrown inside {@linkcode decryptNow} when Cancel was pressed. */
class Cancelled extends Error {}

/** The key for the chosen mode. */
async function getKey(): Promise<PageKey> {
  switch (mode()) {
    case "paste":
      return await pastedKey(ui.key.value);
    case "file":
      return keyFromFileChoice!.key;
    case "server": {
      setStatus("Asking the key server…");
      return await keyFromServer(ui.server.value.trim(), ui.token.value.trim(), headerBytes!);
    }
  }
}

/** Decrypts the chosen source into a file (streamed) or memory; nothing is kept unless all of it verified. */
async function decryptNow(): Promise<void> {
  if (busy || source === null) return;
  const src = source;
  const mine = generation;
  busy = true;
  cancelRequested = false;
  updateButton();
  clearResult();
  clearError();
  let sink: Sink | null = null;
  let key: PageKey | undefined;
  let keyIsFiles = false;
  try {
    // The picker first, while the click still counts as the user's gesture.
    sink = canStreamToDisk()
      ? await pickFileSink(outputName(src.name))
      : memorySink(outputName(src.name), (url) => outputUrl = url);
    if (sink === null) {
      setStatus("Nothing was saved: no file was chosen.");
      setState("ready");
      return;
    }
    setState("decrypting");
    // Disposed after this run unless it is the loaded key file's, decided by where it came from now (the mode may
    // change while the run goes on).
    keyIsFiles = mode() === "file";
    key = await getKey();
    if (mine !== generation) throw new Superseded();
    if (cancelRequested) throw new Cancelled();
    setStatus("Decrypting…");
    const { body, total } = src.kind === "file"
      ? { body: src.file.stream(), total: src.file.size }
      : await fetchBody(src.url);
    let read = 0;
    const counted = body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          read += chunk.length;
          controller.enqueue(chunk);
        },
      }),
    );
    const reader = counted
      .pipeThrough(decryptStream({ keys: key.keys, verificationKey: key.verificationKey }))
      .getReader();
    running = reader;
    ui.progress.max = total > 0 ? total : 1;
    ui.progress.value = 0;
    if (total === 0) ui.progress.removeAttribute("value"); // unknown length: an indeterminate bar
    ui.progress.hidden = false;
    let written = 0;
    let shown = 0;
    for (;;) {
      const { value, done } = await reader.read();
      // Another file was chosen, or Cancel (either cancels this reader, so `done` says nothing here).
      if (mine !== generation) throw new Superseded();
      if (cancelRequested) throw new Cancelled();
      if (done) break;
      await sink.write(value);
      written += value.length;
      // Held in memory with no length known beforehand: the warning comes when the plaintext passes the bound.
      if (!sink.streaming && total === 0 && written > MEMORY_WARNING_BYTES && ui.sizeWarning.hidden) {
        showSizeWarning(written);
      }
      const now = performance.now();
      if (now - shown > 100) {
        shown = now;
        if (total > 0) ui.progress.value = read;
        setStatus(
          `Decrypting… ${formatBytes(written)} verified${
            total > 0 ? ` (${formatBytes(read)} of ${formatBytes(total)} read)` : ""
          }`,
        );
      }
    }
    // The stream ended without an error: every chunk, the last one included, verified.
    if (total > 0) ui.progress.value = total;
    const shownResult = await sink.commit();
    sink = null;
    ui.result.replaceChildren("Decrypted and verified. ", shownResult);
    ui.result.hidden = false;
    setStatus("");
    setState("done");
  } catch (e) {
    await sink?.discard();
    if (e instanceof Cancelled) {
      ui.progress.hidden = true;
      setStatus("Cancelled: nothing was saved.");
      setState("cancelled");
    } else if (mine === generation && !(e instanceof Superseded)) {
      ui.progress.hidden = true;
      showError(e, "Decrypting");
    }
  } finally {
    if (!keyIsFiles) key?.keys.dispose();
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
ui.showKey.addEventListener("click", () => {
  const show = ui.key.type === "password";
  ui.key.type = show ? "text" : "password";
  ui.showKey.textContent = show ? "Hide" : "Show";
  ui.showKey.setAttribute("aria-pressed", String(show));
});
for (const radio of document.querySelectorAll<HTMLInputElement>("input[name=key-mode]")) {
  radio.addEventListener("change", updateButton);
}
ui.keyFile.addEventListener("change", async () => {
  keyFromFileChoice?.key.keys.dispose();
  keyFromFileChoice = null;
  ui.keyFileStatus.textContent = "";
  const f = ui.keyFile.files?.[0];
  if (f !== undefined) {
    try {
      const { key, what } = await keyFromFile(f);
      keyFromFileChoice = { key, name: f.name };
      ui.keyFileStatus.textContent = `${f.name}: ${what}.`;
    } catch (e) {
      showError(e, "Loading the key file");
    }
  }
  updateButton();
});
ui.server.value = localStorage.getItem(SERVER_URL_ITEM) ?? "";
ui.token.value = sessionStorage.getItem(SERVER_TOKEN_ITEM) ?? "";
ui.server.addEventListener("input", () => {
  localStorage.setItem(SERVER_URL_ITEM, ui.server.value.trim());
  updateButton();
});
ui.token.addEventListener("input", () => sessionStorage.setItem(SERVER_TOKEN_ITEM, ui.token.value.trim()));
ui.decrypt.addEventListener("click", () => void decryptNow());
ui.cancel.addEventListener("click", () => {
  cancelRequested = true;
  running?.cancel().catch(() => {});
});

ui.decrypt.textContent = canStreamToDisk() ? "Decrypt and save…" : "Decrypt";
ui.saveNote.textContent = canStreamToDisk()
  ? "You choose where to save first; the file is written as it verifies and kept only if all of it verifies. " +
    "Choosing an existing file replaces it: the browser empties it when you choose it."
  : "The decrypted file is offered for saving once all of it verified.";

const fromUrl = new URLSearchParams(location.search).get("src");
updateButton();
if (fromUrl !== null && fromUrl !== "") {
  let url: URL | undefined;
  try {
    url = new URL(fromUrl, location.href);
  } catch (e) {
    showError(e, "Opening the address");
  }
  if (url) {
    let name = url.pathname;
    try {
      name = decodeURIComponent(url.pathname);
    } catch {
      // A malformed escape: the name as written.
    }
    void choose({ kind: "url", url: url.href, name });
  }
} else {
  setState("idle");
}
