/**
 * KMS benchmark against moto on loopback: KMS calls per encrypted file with
 * and without the data-key cache, and the time to encrypt (then decrypt)
 * 1,000 small files each way. Calls are counted at a proxy in front of moto.
 *
 *   deno run -A scripts/bench_kms.ts [FILES]
 *
 * Prints markdown tables. Moto answers on loopback in about a millisecond, so
 * the times understate what a real KMS round trip (tens of ms) costs: the
 * call counts are the portable result.
 */
import { DataKeyCache, decrypt, encrypt } from "../mod.ts";
import { AwsKms } from "../src/kms/aws.ts";
import { startCountingProxy } from "../tests/support/counting_proxy.ts";
import { startMoto } from "../tests/support/moto.ts";
import { machineLine } from "./machine.ts";

const files = Number(Deno.args[0] ?? 1000);
const moto = await startMoto();
const proxy = await startCountingProxy(moto.endpoint);
try {
  const arn = await moto.createKey("bench");
  const client = moto.client({ endpoint: proxy.endpoint });
  const key = new AwsKms({ keyId: arn, client });
  const discovery = AwsKms.discovery({ client });
  const context = { bench: "kms" };
  const inputs = Array.from({ length: files }, (_, i) => new TextEncoder().encode(`file ${i} `.repeat(100)));

  const rows: string[] = [];
  for (const mode of ["no cache", "cache (5 min, 1000 messages)"]) {
    const encCache = mode === "no cache" ? undefined : new DataKeyCache({ maxAgeMs: 300_000, maxMessages: 1000 });
    const decCache = mode === "no cache" ? undefined : new DataKeyCache({ maxAgeMs: 300_000 });
    proxy.reset();
    const t0 = performance.now();
    const sealed: Uint8Array[] = [];
    for (const data of inputs) sealed.push(await encrypt(data, { keys: key, context, cache: encCache }));
    const t1 = performance.now();
    const gen = proxy.count("GenerateDataKey");
    for (const s of sealed) await decrypt(s, { keys: discovery, context, cache: decCache });
    const t2 = performance.now();
    const dec = proxy.count("Decrypt");
    rows.push(
      `| ${mode} | ${files} | ${gen} | ${(gen / files).toFixed(3)} | ${dec} | ${(dec / files).toFixed(3)} | ${
        (t1 - t0).toFixed(0)
      } | ${(t2 - t1).toFixed(0)} |`,
    );
    await encCache?.clear();
    await decCache?.clear();
  }
  console.log(`# KMS calls and time, ${files} files of ~1 KiB, AWS KMS (moto on loopback)\n`);
  console.log(machineLine());
  console.log();
  console.log(
    "| mode | files | GenerateDataKey calls | per file | Decrypt calls | per file | encrypt ms (all) | decrypt ms (all) |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of rows) console.log(r);
} finally {
  await proxy.close();
  await moto.close();
}
