/**
 * A deliberately permissive zip writer for tests: it writes whatever names,
 * attributes, sizes and CRCs it is told, so tests can build the malformed and
 * malicious archives that real writers refuse to make.
 */
import { Deflate, deflateSync } from "fflate";
import { crc32 } from "../../src/archive/unzip.ts";

export interface CraftEntry {
  /** The entry name; bytes are written as given, strings as UTF-8. */
  name: string | Uint8Array;
  /** The uncompressed contents (default empty). */
  data?: Uint8Array;
  /** 0 stored, 8 deflate (default 8). */
  method?: number;
  /** The compressed payload to write instead of compressing `data`. */
  payload?: Uint8Array;
  /** External attributes (default a Unix 0644 file). */
  attrs?: number;
  /** Version made by (default Unix, 2.0). */
  madeBy?: number;
  /** General purpose flags (default 0x800, UTF-8 names). */
  flags?: number;
  /** Overrides of the recorded CRC and sizes (local and central alike). */
  crc?: number;
  usize?: number;
  csize?: number;
  /** Writes the sizes and offset as ZIP64 (0xFFFFFFFF plus an extra field). */
  zip64?: boolean;
}

const te = new TextEncoder();

function le(bytes: number, v: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < bytes; i++) {
    out.push(Number((BigInt(v) >> BigInt(8 * i)) & 0xffn));
  }
  return out;
}

/** Builds a zip archive from the entries, exactly as described. */
export function craftZip(entries: CraftEntry[], options: { zip64End?: boolean } = {}): Uint8Array {
  const parts: number[][] = [];
  const central: number[][] = [];
  let offset = 0;
  for (const e of entries) {
    const name = typeof e.name === "string" ? te.encode(e.name) : e.name;
    const data = e.data ?? new Uint8Array(0);
    const method = e.method ?? 8;
    const payload = e.payload ?? (method === 8 ? deflateSync(data) : data);
    const crc = e.crc ?? crc32(0, data);
    const usize = e.usize ?? data.length;
    const csize = e.csize ?? payload.length;
    const flags = e.flags ?? 0x800;
    const zip64Extra = e.zip64 ? [...le(2, 1), ...le(2, 24), ...le(8, usize), ...le(8, csize), ...le(8, offset)] : [];
    const localExtra = e.zip64 ? [...le(2, 1), ...le(2, 16), ...le(8, usize), ...le(8, csize)] : [];
    const s32 = (v: number) => e.zip64 ? le(4, 0xffffffff) : le(4, v);
    const local = [
      ...le(4, 0x04034b50),
      ...le(2, e.zip64 ? 45 : 20),
      ...le(2, flags),
      ...le(2, method),
      ...le(2, 0),
      ...le(2, 0x21),
      ...le(4, crc),
      ...s32(csize),
      ...s32(usize),
      ...le(2, name.length),
      ...le(2, localExtra.length),
      ...name,
      ...localExtra,
    ];
    parts.push(local, [...payload]);
    central.push([
      ...le(4, 0x02014b50),
      ...le(2, e.madeBy ?? 0x0314),
      ...le(2, e.zip64 ? 45 : 20),
      ...le(2, flags),
      ...le(2, method),
      ...le(2, 0),
      ...le(2, 0x21),
      ...le(4, crc),
      ...s32(csize),
      ...s32(usize),
      ...le(2, name.length),
      ...le(2, zip64Extra.length),
      ...le(2, 0),
      ...le(2, 0),
      ...le(2, 0),
      ...le(4, e.attrs ?? 0o100644 * 0x10000),
      ...s32(offset),
      ...name,
      ...zip64Extra,
    ]);
    offset += local.length + payload.length;
  }
  const cdOffset = offset;
  const cd = central.flat();
  const tail: number[] = [];
  if (options.zip64End) {
    const rec = offset + cd.length;
    tail.push(
      ...le(4, 0x06064b50),
      ...le(8, 44),
      ...le(2, 45),
      ...le(2, 45),
      ...le(4, 0),
      ...le(4, 0),
      ...le(8, entries.length),
      ...le(8, entries.length),
      ...le(8, cd.length),
      ...le(8, cdOffset),
      ...le(4, 0x07064b50),
      ...le(4, 0),
      ...le(8, rec),
      ...le(4, 1),
    );
  }
  const z64 = options.zip64End === true;
  tail.push(
    ...le(4, 0x06054b50),
    ...le(2, 0),
    ...le(2, 0),
    ...le(2, z64 ? 0xffff : entries.length),
    ...le(2, z64 ? 0xffff : entries.length),
    ...le(4, z64 ? 0xffffffff : cd.length),
    ...le(4, z64 ? 0xffffffff : cdOffset),
    ...le(2, 0),
  );
  const all = [...parts.flat(), ...cd, ...tail];
  return new Uint8Array(all);
}

/** Raw deflate of `size` zero bytes, compressed in pieces so the zeros are never all in memory. */
export function deflatedZeros(size: number): Uint8Array {
  const out: Uint8Array[] = [];
  const d = new Deflate({ level: 9 }, (chunk) => void out.push(chunk));
  const piece = new Uint8Array(1 << 20);
  for (let left = size; left > 0; left -= piece.length) {
    const n = Math.min(left, piece.length);
    d.push(piece.subarray(0, n), left - n === 0);
  }
  let len = 0;
  for (const c of out) len += c.length;
  const all = new Uint8Array(len);
  let o = 0;
  for (const c of out) all.set(c, o), o += c.length;
  return all;
}
