/**
 * The Nitro-enclave fixtures of compat_nitro_test.ts and kms_kmstool_test.ts:
 * moto with an AWS KMS key and its alias, a scratch folder and HOME, and an
 * application tree encrypted by the Python replica of envelope_encryptor.py.
 *
 * @module
 */
import { join } from "node:path";
import { startMoto } from "./moto.ts";
import { makeAppTree, ok, runPy, scratch } from "./compat_cli.ts";

/** What {@linkcode withSetup} hands a test: scratch folder, HOME, moto environment, the key and its alias. */
export interface Ctx {
  dir: string;
  home: string;
  env: Record<string, string>;
  arn: string;
  alias: string;
}

export async function withSetup(fn: (c: Ctx) => Promise<void>): Promise<void> {
  const moto = await startMoto();
  const dir = await scratch("nitro");
  try {
    const arn = await moto.createKey("nitro test key");
    const alias = await moto.createAlias("enclavekey", arn);
    const home = join(dir, "home");
    await Deno.mkdir(home);
    // boto3 reads AWS_DEFAULT_REGION; the JavaScript SDK reads AWS_REGION.
    const env = { ...moto.env(), AWS_DEFAULT_REGION: moto.region };
    await fn({ dir, home, env, arn, alias });
  } finally {
    await moto.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Makes the application tree and encrypts it with the Python replica of envelope_encryptor.py. */
export async function pythonEncrypted({ dir, home, env, alias }: Ctx): Promise<{ app: string; file: string }> {
  const app = join(dir, "application");
  await makeAppTree(app);
  const work = join(dir, "py-encryptor");
  await Deno.mkdir(work);
  ok(
    await runPy("compat_envelope_encryptor.py", ["encrypt", "-d", app, "-k", alias], { cwd: work, home, env }),
    "the Python encryptor",
  );
  return { app, file: join(work, "application_code.zip.encrypted") };
}
