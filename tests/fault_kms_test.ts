/**
 * KMS fault suite: a fault proxy (tests/support/fault_proxy.ts) in front of
 * moto (AWS KMS) and the Alibaba test server injects connection resets,
 * hangs, 5xx answers, throttling and garbage bodies. Every case must end in
 * an EnvelopeError with a stable code and a hint, within a bounded number
 * of attempts and time; retries must cure faults that stop; and the CLI,
 * failing the same way, must lose no file and leave no partial output.
 * Client timeouts are short (400 ms) so every case is bounded.
 */
import assert from "node:assert/strict";
import { decrypt } from "../src/envelope/decrypt.ts";
import { encrypt } from "../src/envelope/encrypt.ts";
import { EnvelopeError } from "../src/errors.ts";
import { AwsKms } from "../src/kms/aws.ts";
import { AliyunKms } from "../src/kms/aliyun.ts";
import type { KeyProvider } from "../src/keys/provider.ts";
import { startMoto } from "./support/moto.ts";
import { startAliyunServer } from "./support/aliyun_server.ts";
import { type Fault, type FaultProxy, HANG, PASS, RESET, startFaultProxy } from "./support/fault_proxy.ts";
import { leftovers, pathExists, workspace } from "./support/cli.ts";

const ATTEMPTS = 3;
const TIMEOUT_MS = 400;
const RETRY = { attempts: ATTEMPTS, baseDelayMs: 1, maxDelayMs: 5, timeoutMs: TIMEOUT_MS };

/** A fault case: what the proxy does, what must come out, how many calls may reach the proxy. */
interface Case {
  readonly name: string;
  readonly plan: (n: number) => Fault;
  /** The code, or "success" when retries must cure the fault. */
  readonly expect: string;
  /** Calls the proxy must see for one operation. */
  readonly calls: number;
}

const answer = (status: number, body: string, headers?: HeadersInit): Fault => ({
  kind: "answer",
  status,
  body,
  headers,
});
const first = (k: number, f: Fault) => (n: number) => n < k ? f : PASS;
const always = (f: Fault) => () => f;

const AWS_JSON = { "content-type": "application/x-amz-json-1.1" };
const awsCases: Case[] = [
  { name: "connection reset on every attempt", plan: always(RESET), expect: "CONNECTION_RESET", calls: ATTEMPTS },
  { name: "connection reset twice, then an answer", plan: first(2, RESET), expect: "success", calls: 3 },
  { name: "no answer (hang) on every attempt", plan: always(HANG), expect: "KMS_TIMEOUT", calls: ATTEMPTS },
  { name: "HTTP 500 with no body", plan: always(answer(500, "")), expect: "KMS_FAILED", calls: ATTEMPTS },
  {
    name: "HTTP 500 KMSInternalException",
    plan: always(answer(500, '{"__type":"KMSInternalException","message":"internal"}', AWS_JSON)),
    expect: "KMS_FAILED",
    calls: ATTEMPTS,
  },
  {
    name: "ThrottlingException on every attempt",
    plan: always(answer(400, '{"__type":"ThrottlingException","message":"Rate exceeded"}', AWS_JSON)),
    expect: "KMS_THROTTLED",
    calls: ATTEMPTS,
  },
  {
    name: "ThrottlingException twice, then an answer",
    plan: first(2, answer(400, '{"__type":"ThrottlingException","message":"Rate exceeded"}', AWS_JSON)),
    expect: "success",
    calls: 3,
  },
  {
    name: "garbage body with HTTP 200",
    plan: always(answer(200, "<html>\u0000\u00ff")),
    expect: "KMS_FAILED",
    calls: 1,
  },
  {
    name: "garbage body with HTTP 502",
    plan: always(answer(502, "<html>bad gateway</html>")),
    expect: "KMS_FAILED",
    calls: ATTEMPTS,
  },
];

const ALI_THROTTLE =
  '{"Code":"Rejected.Throttling","Message":"Request was denied due to flow control","RequestId":"r1"}';
const aliyunCases: Case[] = [
  { name: "connection reset on every attempt", plan: always(RESET), expect: "CONNECTION_RESET", calls: ATTEMPTS },
  { name: "connection reset twice, then an answer", plan: first(2, RESET), expect: "success", calls: 3 },
  { name: "no answer (hang) on every attempt", plan: always(HANG), expect: "KMS_TIMEOUT", calls: ATTEMPTS },
  { name: "HTTP 500 with no body", plan: always(answer(500, "")), expect: "KMS_FAILED", calls: ATTEMPTS },
  {
    name: "HTTP 503 ServiceUnavailableTemporary",
    plan: always(answer(503, '{"Code":"ServiceUnavailableTemporary","Message":"busy","RequestId":"r2"}')),
    expect: "KMS_FAILED",
    calls: ATTEMPTS,
  },
  {
    name: "Rejected.Throttling on every attempt",
    plan: always(answer(429, ALI_THROTTLE)),
    expect: "KMS_THROTTLED",
    calls: ATTEMPTS,
  },
  {
    name: "Rejected.Throttling twice, then an answer",
    plan: first(2, answer(429, ALI_THROTTLE)),
    expect: "success",
    calls: 3,
  },
  {
    name: "garbage body with HTTP 200",
    plan: always(answer(200, "<html>\u0000\u00ff")),
    expect: "KMS_FAILED",
    calls: 1,
  },
  {
    name: "garbage body with HTTP 502",
    plan: always(answer(502, "<html>bad gateway</html>")),
    expect: "KMS_FAILED",
    calls: ATTEMPTS,
  },
];

/** What the suite did, for the table. */
interface Tally {
  operations: number;
  faults: number;
  codes: Map<string, number>;
  filesLost: number;
}
const tallies = new Map<string, Tally>();
function tally(provider: string): Tally {
  let t = tallies.get(provider);
  if (!t) tallies.set(provider, t = { operations: 0, faults: 0, codes: new Map(), filesLost: 0 });
  return t;
}

/** Codes a single failed unwrap keeps in decrypt (src/envelope/data_key.ts PASS_THROUGH, FORMAT.md §8 step 6). */
const DECRYPT_KEEPS = new Set([
  "CONNECTION_RESET",
  "KMS_FAILED",
  "KMS_ACCESS_DENIED",
  "KMS_KEY_NOT_FOUND",
  "KMS_THROTTLED",
  "KMS_TIMEOUT",
  "CONTEXT_MISMATCH",
]);

/** Runs one operation under a fault and checks the outcome; returns the code ("success" when it worked). */
async function underFault(
  provider: string,
  proxy: FaultProxy,
  c: Case,
  op: string,
  run: () => Promise<unknown>,
  expectCode: string,
): Promise<void> {
  proxy.reset();
  proxy.plan(c.plan);
  const t = tally(provider);
  const started = performance.now();
  let code = "success";
  try {
    await run();
  } catch (e) {
    assert.ok(e instanceof EnvelopeError, `${provider} ${op} under ${c.name}: not an EnvelopeError: ${e}`);
    code = e.code;
    assert.ok(e.hint && e.hint.length > 0, `${provider} ${op} under ${c.name}: ${e.code} has no hint (${e.message})`);
    assert.match(e.message, /^[A-Z].* failed: /, `${provider} ${op}: the message names the failed action`);
    if (c.expect === "CONNECTION_RESET") assert.match(e.message, /reset/, e.message);
  }
  const ms = performance.now() - started;
  t.operations++;
  t.faults += proxy.calls.filter((x) => x.fault !== "pass").length;
  t.codes.set(code, (t.codes.get(code) ?? 0) + 1);
  assert.equal(code, expectCode, `${provider} ${op} under ${c.name}`);
  // Bounded: each attempt reached the proxy once, never more than the retry policy allows.
  assert.equal(proxy.calls.length, c.calls, `${provider} ${op} under ${c.name}: calls reaching the proxy`);
  assert.ok(ms < ATTEMPTS * TIMEOUT_MS + 3000, `${provider} ${op} under ${c.name} took ${Math.round(ms)} ms`);
}

/** Every case against one provider: encrypt (GenerateDataKey) and decrypt (Decrypt) of a message made without faults. */
async function runCases(provider: string, proxy: FaultProxy, kms: KeyProvider, cases: Case[]): Promise<void> {
  proxy.plan(always(PASS));
  const plaintext = new TextEncoder().encode("fault suite");
  const sealed = await encrypt(plaintext, { keys: kms, context: { suite: "fault" } });
  for (const c of cases) {
    await underFault(provider, proxy, c, "encrypt", () => encrypt(plaintext, { keys: kms }), c.expect);
    const decryptCode = c.expect === "success" || DECRYPT_KEEPS.has(c.expect) ? c.expect : "NO_KEY_MATCHED";
    await underFault(provider, proxy, c, "decrypt", async () => {
      const out = await decrypt(sealed, { keys: kms, context: { suite: "fault" } });
      assert.deepEqual(out, plaintext);
    }, decryptCode);
  }
}

/** The CLI under a fault: it fails with the code on its error line and a hint, and loses and leaves no file. */
async function cliUnderFault(
  provider: string,
  proxy: FaultProxy,
  env: Record<string, string>,
  key: string,
  fault: Fault,
  codes: RegExp,
): Promise<void> {
  await using ws = await workspace();
  const data = new TextEncoder().encode("precious data\n".repeat(1000));
  await Deno.writeFile(ws.path("f"), data);
  proxy.plan(always(PASS));
  let r = await ws.run(["encrypt", "f", "-k", key, "-o", "sealed.envl"], { env });
  assert.equal(r.code, 0, r.stderr);
  const sealed = await Deno.readFile(ws.path("sealed.envl"));
  const t = tally(provider);
  proxy.reset();
  proxy.plan(always(fault));
  for (
    const [args, input, bytes, output] of [
      [["encrypt", "f", "-k", key, "-o", "again.envl"], "f", data, "again.envl"],
      [["decrypt", "sealed.envl", "-k", key, "-o", "out"], "sealed.envl", sealed, "out"],
    ] as const
  ) {
    r = await ws.run(args, { env, timeoutMs: 60_000 });
    t.operations++;
    assert.equal(r.code, 1, `cli ${args[0]} under ${fault.kind}: ${r.stderr}`);
    const m = /^error: .*\[([A-Z_]+)\]$/m.exec(r.stderr);
    assert.ok(m && codes.test(m[1]), `cli ${args[0]} under ${fault.kind}: ${r.stderr}`);
    assert.match(r.stderr, /^hint: ./m, `cli ${args[0]}: a hint`);
    t.codes.set(`cli ${m![1]}`, (t.codes.get(`cli ${m![1]}`) ?? 0) + 1);
    const intact = await pathExists(ws.path(input)) &&
      (await Deno.readFile(ws.path(input))).every((b, i) => b === bytes[i]);
    if (!intact) t.filesLost++;
    assert.ok(intact, `cli ${args[0]}: the input ${input} is intact`);
    assert.equal(await pathExists(ws.path(output)), false, `cli ${args[0]}: no output`);
    assert.deepEqual(await leftovers(ws.dir), [], `cli ${args[0]}: no temporary file left`);
  }
  t.faults += proxy.calls.filter((x) => x.fault !== "pass").length;
  assert.ok(proxy.calls.length <= 2 * 5, `the CLI's retries are bounded: ${proxy.calls.length} calls`);
}

Deno.test("fault suite, AWS KMS (moto behind the fault proxy): resets, hangs, 5xx, throttling, garbage", async () => {
  const moto = await startMoto();
  const proxy = await startFaultProxy(moto.endpoint);
  try {
    const arn = await moto.createKey("fault suite");
    const kms = new AwsKms({ keyId: arn, client: moto.client({ endpoint: proxy.endpoint }), retry: RETRY });
    await runCases("aws-kms", proxy, kms, awsCases);
    const env = { ...moto.env(), AWS_ENDPOINT_URL_KMS: proxy.endpoint };
    await cliUnderFault("aws-kms", proxy, env, `aws-kms:${arn}`, RESET, /^CONNECTION_RESET$/);
    await cliUnderFault("aws-kms", proxy, env, `aws-kms:${arn}`, answer(500, ""), /^KMS_FAILED$/);
  } finally {
    await proxy.close();
    await moto.close();
  }
});

Deno.test("fault suite, Alibaba Cloud KMS (test server behind the fault proxy): resets, hangs, 5xx, throttling, garbage", async () => {
  const server = await startAliyunServer();
  const proxy = await startFaultProxy(server.endpoint);
  try {
    const keyId = server.createKey();
    const kms = new AliyunKms({
      keyId,
      endpoint: proxy.endpoint + "/",
      regionId: server.regionId,
      accessKeyId: server.accessKeyId,
      accessKeySecret: server.accessKeySecret,
      retry: RETRY,
    });
    await runCases("aliyun-kms", proxy, kms, aliyunCases);
    const env = {
      ALIBABA_CLOUD_KMS_ENDPOINT: proxy.endpoint + "/",
      ALIBABA_CLOUD_ACCESS_KEY_ID: server.accessKeyId,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: server.accessKeySecret,
      ALIBABA_CLOUD_REGION_ID: server.regionId,
    };
    await cliUnderFault("aliyun-kms", proxy, env, `aliyun-kms:${keyId}`, RESET, /^CONNECTION_RESET$/);
    await cliUnderFault("aliyun-kms", proxy, env, `aliyun-kms:${keyId}`, answer(500, ""), /^KMS_FAILED$/);
  } finally {
    await proxy.close();
    await server.close();
  }
});

Deno.test("fault suite: the table (operations, faults injected, outcome codes, files lost)", () => {
  const rows = [...tallies].map(([p, t]) =>
    `| ${p.padEnd(10)} | ${String(t.operations).padStart(10)} | ${String(t.faults).padStart(15)} | ${
      [...t.codes].sort().map(([c, n]) => `${c} ${n}`).join(", ")
    } | ${t.filesLost} |`
  );
  console.log(
    ["| provider   | operations | faults injected | outcome codes | files lost |", "|---|---|---|---|---|", ...rows]
      .join(
        "\n",
      ),
  );
  for (const [p, t] of tallies) {
    assert.equal(t.filesLost, 0, `${p}: files lost`);
    assert.ok(t.faults > 0 && t.operations > 0, `${p}: the suite ran`);
  }
});
