/**
 * One line naming the machine a benchmark ran on: CPU model, cores, Deno and
 * V8 versions, and the date. Benchmarks print it beside their tables.
 *
 * @module
 */
import { cpus } from "node:os";

/** `machine: <cpu> x <cores>, Deno <v> (V8 <v>), <date>` */
export function machineLine(): string {
  const c = cpus();
  const model = c[0]?.model?.trim() ?? "unknown CPU";
  return `machine: ${model} x ${c.length} cores, Deno ${Deno.version.deno} (V8 ${Deno.version.v8}), ${
    new Date().toISOString().slice(0, 10)
  }`;
}
