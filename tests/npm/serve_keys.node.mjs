// `envelope serve-keys` under Node through the installed bin: a method a web
// Request cannot carry (TRACE) gets 405 and the server stays up (it used to
// stop the process: a review found it), and a refusal closes the connection
// rather than reading an endless body.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { cliSandbox, INSTALL_DIR } from "./support/cli.mjs";

const { work, env, bin } = cliSandbox();

/** Sends raw bytes and collects the answer until the server closes or `ms` pass. */
function raw(port, text, ms = 5000) {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => s.write(text));
    let got = "";
    s.on("data", (d) => (got += d.toString("latin1")));
    s.on("error", reject);
    s.on("close", () => resolve(got));
    setTimeout(() => s.destroy(), ms).unref();
  });
}

test("serve-keys on Node: TRACE gets 405 and the server stays up; a refused endless body is cut off", async () => {
  const key = join(work, "sk.key");
  assert.equal(bin(["keygen", "-o", key]).status, 0);
  writeFileSync(join(work, "token"), "a-token-long-enough-for-serve-keys-0123456789\n", { mode: 0o600 });
  const child = spawn(
    join(INSTALL_DIR, "node_modules", ".bin", "envelope"),
    ["serve-keys", "-k", `local:${key}`, "--token-file", join(work, "token"), "--port", "0"],
    { cwd: INSTALL_DIR, env, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  let exited = null;
  child.on("exit", (code) => (exited = code));
  try {
    const port = await new Promise((resolve, reject) => {
      child.stdout.on("data", (d) => {
        out += d;
        const m = /127\.0\.0\.1:(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.on("exit", () => reject(new Error(`serve-keys exited: ${out}`)));
    });
    // TRACE reaches the handler (and `new Request` refuses it); Node's own parser answers TRACK with 400.
    for (const [method, status] of [["TRACE", /^HTTP\/1\.1 405 /], ["TRACK", /^HTTP\/1\.1 4\d\d /]]) {
      const answer = await raw(port, `${method} / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      assert.match(answer, status, `${method}: ${answer}`);
    }
    // Still serving: a POST without the token is refused with 401.
    const res = await fetch(`http://127.0.0.1:${port}/`, { method: "POST", body: "x" });
    assert.equal(res.status, 401);
    await res.body?.cancel();
    // A chunked body without end, no token: the 401 goes out and the connection closes, well before 64 MiB.
    const sent = await new Promise((resolve) => {
      const s = connect(port, "127.0.0.1");
      let n = 0;
      const chunk = Buffer.alloc(1024 * 1024, 97);
      const frame = Buffer.concat([Buffer.from(chunk.length.toString(16) + "\r\n"), chunk, Buffer.from("\r\n")]);
      const done = () => {
        s.destroy();
        resolve(n);
      };
      s.on("error", done);
      s.on("close", done);
      s.on("connect", () => {
        s.write("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n");
        const pump = () => {
          while (n < 64 * 1024 * 1024) {
            n += chunk.length;
            if (!s.write(frame)) return void s.once("drain", pump);
          }
          done();
        };
        pump();
      });
    });
    assert.ok(sent < 64 * 1024 * 1024, `the server read ${sent} bytes of a refused body`);
    assert.equal(exited, null, "serve-keys stopped");
  } finally {
    child.kill("SIGTERM");
  }
});
