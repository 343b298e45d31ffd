/**
 * The rows and markdown tables of `scripts/bench_compare.ts`: each row holds
 * one sample per repetition (a rate, wall seconds, peak RSS, CPU seconds) and
 * prints the median rate with its range, the median wall time, the highest
 * peak RSS seen and the median CPU/wall.
 *
 * @module
 */
import { median } from "./measure.ts";

/** One repetition of one row. */
export interface Sample {
  /** Bytes or items per second (the row's unit). */
  readonly rate: number;
  readonly seconds: number;
  readonly rssKiB: number;
  readonly cpuSeconds: number;
}

/** A contender doing one operation on one input. */
export interface Row {
  readonly contender: string;
  readonly op: string;
  /** "MB/s" (rate in bytes/s, printed as 10^6 bytes/s), "files/s" or "msgs/s". */
  readonly unit: "MB/s" | "files/s" | "msgs/s";
  readonly samples: Sample[];
  /** A second rate printed in brackets (e.g. files/s beside MB/s), per second of the same runs. */
  readonly itemsPerRun?: number;
}

/** 3 significant figures, thousands separated: 1,234 / 123 / 12.3 / 1.23. */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return "?";
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString("en-US");
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

const shown = (row: Row, rate: number) => row.unit === "MB/s" ? rate / 1e6 : rate;

/** The row's median rate in its unit (MB/s as 10^6 bytes/s). */
export function medianRate(row: Row): number {
  return shown(row, median(row.samples.map((s) => s.rate)));
}

/** The highest peak RSS of the row's runs, in MiB. */
export function peakMiB(row: Row): number {
  return Math.max(...row.samples.map((s) => s.rssKiB)) / 1024;
}

/** The median CPU seconds per wall second (1.0 = one core busy all the time). */
export function cpuPerWall(row: Row): number {
  return median(row.samples.map((s) => s.cpuSeconds / s.seconds));
}

/** A markdown table of `rows`. */
export function table(rows: readonly Row[]): string {
  const lines = [
    "| contender | operation | rate (median) | min – max | wall s (median) | peak RSS MiB (max) | CPU/wall (median) |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of rows) {
    if (r.samples.length === 0) continue;
    const rates = r.samples.map((s) => shown(r, s.rate));
    const items = r.itemsPerRun ? ` (${fmt(r.itemsPerRun / median(r.samples.map((s) => s.seconds)))} files/s)` : "";
    lines.push(
      `| ${r.contender} | ${r.op} | ${fmt(medianRate(r))} ${r.unit}${items} | ${fmt(Math.min(...rates))} – ${
        fmt(Math.max(...rates))
      } | ${median(r.samples.map((s) => s.seconds)).toFixed(2)} | ${peakMiB(r).toFixed(0)} | ${
        cpuPerWall(r).toFixed(2)
      } |`,
    );
  }
  return lines.join("\n");
}
