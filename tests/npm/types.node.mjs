// The package's declarations from a TypeScript user's side: a consumer file
// importing every entry point type-checks under `moduleResolution: NodeNext`
// (so the exports map's `types` conditions resolve), and a wrong option is a
// type error (so the types are real, not `any`). Uses the build's pinned
// toolchain: $ENVELOPE_TOOLCHAIN (TOOLCHAIN_DIR of scripts/build_npm.ts).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import process from "node:process";

const here = dirname(fileURLToPath(import.meta.url));
const dir = join(here, "types-check");
after(() => rmSync(dir, { recursive: true, force: true }));

const CONSUMER = `
import { decrypt, encrypt, type EncryptOptions, Fernet, isEnvelopeError, LocalKey } from "@envelope/envelope";
import { AwsKms } from "@envelope/envelope/aws";
import { AliyunKms } from "@envelope/envelope/aliyun";
import { fileSource } from "@envelope/envelope/fs";
import * as browser from "@envelope/envelope/browser";

const key: LocalKey = await LocalKey.generate();
const opts: EncryptOptions = { keys: key, context: { app: "types" }, chunkSize: 4096 };
const sealed: Uint8Array = await encrypt(new Uint8Array(1), opts);
const opened: Uint8Array<ArrayBuffer> = await decrypt(sealed, { keys: key });
const token: string = (await Fernet.create(Fernet.generateKey())).encrypt("x");
const kms = new AwsKms({ keyId: "alias/app" });
const raw: browser.KeyProvider = await browser.RawDataKey.create(new Uint8Array(32));
const source = await fileSource("/dev/null");
export const used = [opened, token, kms, raw, source, AliyunKms, isEnvelopeError];

// @ts-expect-error chunkSize is a number: the declarations are real types, not any
await encrypt(new Uint8Array(1), { keys: key, chunkSize: "big" });
`;

test("a TypeScript consumer of every entry point type-checks (NodeNext, strict)", () => {
  const toolchain = process.env.ENVELOPE_TOOLCHAIN;
  assert.ok(
    toolchain,
    "ENVELOPE_TOOLCHAIN is not set: point it at the build's toolchain (tests/npm_package_test.ts does)",
  );
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ private: true, type: "module" }));
  writeFileSync(join(dir, "consumer.ts"), CONSUMER);
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        noEmit: true,
        lib: ["ES2023", "DOM", "DOM.Iterable"],
        types: ["node"],
        typeRoots: [join(toolchain, "node_modules", "@types")],
        skipLibCheck: true,
      },
      files: ["consumer.ts"],
    }),
  );
  const r = spawnSync(join(toolchain, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.json"], {
    cwd: dir,
    encoding: "utf8",
    timeout: 120_000,
  });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `tsc found errors:\n${r.stdout}\n${r.stderr}`);
});
