/**
 * Shared fixture of the credential-chain tests: a loopback Alibaba server, a
 * temporary HOME, chains over an injected environment (never the process
 * environment, which other test files share), a fetch that refuses anything
 * but 127.0.0.1, and a KMS round trip through AliyunKms.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { EnvelopeError } from "../../src/errors.ts";
import { AliyunCredentialChain, type AliyunCredentialChainOptions, AliyunKms } from "../../src/kms/aliyun.ts";
import type { RetryOptions } from "../../src/kms/retry.ts";
import { type AliyunServer, type IssuedCredentials, startAliyunServer } from "./aliyun_server.ts";

export const FAST: RetryOptions = { attempts: 2, baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 5000 };

/** Requests that tried to leave the loopback interface (must stay empty). */
export const offLoopback: string[] = [];
export const loopback: typeof fetch = (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  if (url.hostname !== "127.0.0.1") {
    offLoopback.push(url.href);
    return Promise.reject(new TypeError(`refused to leave loopback: ${url.host}`));
  }
  return fetch(input, init);
};

export interface Fixture {
  readonly server: AliyunServer;
  /** An empty HOME for this test. */
  readonly home: string;
  readonly dir: string;
  /** A chain over `vars` (plus HOME and the loopback STS and metadata endpoints). */
  chain(vars?: Record<string, string>, extra?: AliyunCredentialChainOptions): AliyunCredentialChain;
  write(rel: string, text: string): Promise<string>;
}

export async function withFixture(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const server = await startAliyunServer();
  const dir = await Deno.makeTempDir({ prefix: "envelope-aliyun-creds-" });
  const home = join(dir, "home");
  await Deno.mkdir(home);
  try {
    await fn({
      server,
      home,
      dir,
      chain: (vars = {}, extra = {}) => {
        const env: Record<string, string> = {
          HOME: home,
          ALIBABA_CLOUD_STS_ENDPOINT: server.stsEndpoint,
          ALIBABA_CLOUD_ECS_METADATA_ENDPOINT: server.metadataEndpoint,
          ...vars,
        };
        return new AliyunCredentialChain({ env: (n) => env[n], fetch: loopback, retry: FAST, ...extra });
      },
      write: async (rel, text) => {
        const path = join(dir, rel);
        await Deno.mkdir(join(path, ".."), { recursive: true });
        await Deno.writeTextFile(path, text);
        return path;
      },
    });
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
  assert.deepEqual(offLoopback, [], "no request left 127.0.0.1");
}

/** GenerateDataKey + Decrypt through AliyunKms with `chain`; returns the calls that signed them. */
export async function roundTrip(server: AliyunServer, chain: AliyunCredentialChain) {
  const keyId = server.createKey();
  const kms = new AliyunKms({ keyId, endpoint: server.endpoint, credentials: chain, fetch: loopback, retry: FAST });
  const ctx = { purpose: "credentials" };
  const { dataKey, wrapped } = await kms.generateDataKey(ctx);
  assert.deepEqual(await kms.unwrap(wrapped, ctx), dataKey);
  const used = server.calls.filter((c) => c.action === "GenerateDataKey" || c.action === "Decrypt").slice(-2);
  assert.deepEqual(used.map((c) => c.status), [200, 200]);
  return used;
}

/** The round trip was signed by `issued` and carried its token. */
export async function roundTripWith(server: AliyunServer, chain: AliyunCredentialChain, issued: IssuedCredentials) {
  for (const c of await roundTrip(server, chain)) {
    assert.equal(c.accessKeyId, issued.accessKeyId);
    assert.equal(c.params.SecurityToken, issued.securityToken);
  }
}

export async function rejectsWith(p: Promise<unknown>, code: string): Promise<EnvelopeError> {
  const err = await p.then(() => undefined, (e) => e);
  assert.ok(err instanceof EnvelopeError, `expected an EnvelopeError ${code}, got ${err}`);
  assert.equal(err.code, code, err.message);
  return err;
}

export function assertNoSecrets(err: EnvelopeError, secrets: string[]): void {
  const text = `${err.message}\n${err.hint ?? ""}\n${err.cause instanceof Error ? err.cause.message : ""}`;
  for (const s of secrets) assert.ok(!text.includes(s), `error text leaks a secret: ${text}`);
}
