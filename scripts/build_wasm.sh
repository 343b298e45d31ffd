#!/usr/bin/env bash
# Builds the WASM crypto core (wasm/) and writes src/crypto/_wasm/core.generated.ts.
#
#   bash scripts/build_wasm.sh            build and regenerate the TypeScript module
#   bash scripts/build_wasm.sh --check    rebuild in a temp dir; fail if the committed module
#                                         is stale (sources changed) or its bytes differ
#   bash scripts/build_wasm.sh --install  first apt-get install the toolchain (root; CI)
#
# Toolchain: Debian's rustc/cargo with the wasm32 standard library, and binaryen's wasm-opt
# (used to validate and strip, not to optimise: see build_module).
# The build is reproducible: fixed flags, paths remapped, one codegen unit, LTO, no debug
# info, no producers section, and nothing time-dependent in the output.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT_TS="$ROOT/src/crypto/_wasm/core.generated.ts"
CARGO=/usr/bin/cargo
RUSTC=/usr/bin/rustc
TARGET=wasm32-unknown-unknown

CHECK=0
INSTALL=0
for arg in "$@"; do
  case "$arg" in
    --check) CHECK=1 ;;
    --install) INSTALL=1 ;;
    -h | --help)
      sed -n '2,12p' "$0"
      exit 0
      ;;
    *)
      echo "build_wasm: unknown option $arg (use --check, --install or --help)" >&2
      exit 2
      ;;
  esac
done

if [ "$INSTALL" = 1 ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q rustc cargo libstd-rust-dev-wasm32 binaryen
fi

if [ ! -x "$CARGO" ] || [ ! -x "$RUSTC" ] || ! command -v wasm-opt > /dev/null; then
  echo "build_wasm: Debian's Rust toolchain or binaryen is missing; install it with" >&2
  echo "  apt-get install rustc cargo libstd-rust-dev-wasm32 binaryen" >&2
  echo "or run this script with --install" >&2
  exit 1
fi

# The files whose contents define the module. Their hash goes into the generated file, so
# --check can tell "sources changed, regenerate" from "same sources, different bytes".
source_sha256() {
  (
    cd "$ROOT"
    {
      printf '%s\n' wasm/Cargo.toml wasm/.cargo/config.toml scripts/build_wasm.sh
      if [ -f wasm/Cargo.lock ]; then printf '%s\n' wasm/Cargo.lock; fi
      find wasm/src -type f -print
    } | LC_ALL=C sort | while IFS= read -r f; do
      printf '%s %s\n' "$(sha256sum < "$f" | cut -d' ' -f1)" "$f"
    done | sha256sum | cut -d' ' -f1
  )
}

build_module() { # $1 = target dir, $2 = output .wasm
  local target_dir="$1" out="$2"
  local flags="-C target-feature=+simd128 --remap-path-prefix=$ROOT/wasm=/envelope/wasm"
  flags="$flags --remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo"
  (
    cd "$ROOT/wasm"
    RUSTC="$RUSTC" RUSTFLAGS="$flags" CARGO_TARGET_DIR="$target_dir" SOURCE_DATE_EPOCH=0 \
      "$CARGO" build --release --offline --locked --target "$TARGET" --quiet
  )
  # wasm-opt validates the module (SIMD enabled) and strips debug info and the producers
  # section. Its -O2/-O3 optimisation passes are deliberately NOT run: on V8 they made the
  # SIMD code markedly slower (serial CBC about half the speed) in A/B runs on the LLVM
  # output, which is already optimised (opt-level 3, LTO, one codegen unit).
  wasm-opt --enable-simd --strip-debug --strip-producers \
    "$target_dir/$TARGET/release/envelope_core.wasm" -o "$out"
}

write_ts() { # $1 = .wasm, $2 = output .ts
  local wasm="$1" ts="$2"
  local wasm_sha src_sha rustc_v opt_v
  wasm_sha="$(sha256sum < "$wasm" | cut -d' ' -f1)"
  src_sha="$(source_sha256)"
  rustc_v="$("$RUSTC" --version)"
  opt_v="$(wasm-opt --version)"
  {
    echo "// GENERATED FILE: do not edit. Written by scripts/build_wasm.sh from wasm/ (the Rust core)."
    echo "// Rebuild: bash scripts/build_wasm.sh   Verify: bash scripts/build_wasm.sh --check"
    echo "// Toolchain: $rustc_v, $opt_v; target $TARGET with simd128, wasm-opt strip only."
    echo "// SOURCE_SHA256 is SHA-256 over lines \"<sha256 of file> <path>\" for the sorted source files"
    echo "// (wasm/Cargo.toml, wasm/Cargo.lock, wasm/src/**, wasm/.cargo/config.toml, scripts/build_wasm.sh)."
    echo ""
    echo "/** SHA-256 (hex) of the sources the module was built from. */"
    echo "export const SOURCE_SHA256: string = \"$src_sha\";"
    echo ""
    echo "/** SHA-256 (hex) of the .wasm bytes below. */"
    echo "export const WASM_SHA256: string = \"$wasm_sha\";"
    echo ""
    echo "/** The module (no imports; exports per docs/wasm-abi.md), base64. */"
    printf 'export const WASM_BASE64: string =\n  "%s";\n' "$(base64 -w0 < "$wasm")"
  } > "$ts"
}

const_of() { # $1 = name, $2 = file
  sed -n "s/^export const $1: string = \"\\([0-9a-f]*\\)\";$/\\1/p" "$2"
}

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

if [ "$CHECK" = 1 ]; then
  if [ ! -f "$OUT_TS" ]; then
    echo "build_wasm --check: $OUT_TS is missing; run bash scripts/build_wasm.sh and commit it" >&2
    exit 1
  fi
  build_module "$TMP/target" "$TMP/core.wasm"
  write_ts "$TMP/core.wasm" "$TMP/core.generated.ts"
  want_src="$(const_of SOURCE_SHA256 "$OUT_TS")"
  got_src="$(const_of SOURCE_SHA256 "$TMP/core.generated.ts")"
  want_wasm="$(const_of WASM_SHA256 "$OUT_TS")"
  got_wasm="$(const_of WASM_SHA256 "$TMP/core.generated.ts")"
  if [ "$want_src" != "$got_src" ]; then
    echo "build_wasm --check: the WASM core's sources changed since core.generated.ts was written" >&2
    echo "  (committed source hash $want_src, current $got_src);" >&2
    echo "  run bash scripts/build_wasm.sh and commit src/crypto/_wasm/core.generated.ts" >&2
    exit 1
  fi
  if [ "$want_wasm" != "$got_wasm" ] || ! cmp -s "$OUT_TS" "$TMP/core.generated.ts"; then
    echo "build_wasm --check: rebuilding the same sources gave a different module" >&2
    echo "  (committed $want_wasm, rebuilt $got_wasm); the toolchain differs from the one in the" >&2
    echo "  file's header or the build is not reproducible: rebuild with that toolchain and compare" >&2
    exit 1
  fi
  # The portable (non-SIMD) lane code is not constant time; lib.rs refuses to build it for wasm32.
  if (cd "$ROOT/wasm" && RUSTC="$RUSTC" RUSTFLAGS="" CARGO_TARGET_DIR="$TMP/nosimd" \
    "$CARGO" build --release --offline --locked --target "$TARGET" --quiet > "$TMP/nosimd.log" 2>&1); then
    echo "build_wasm --check: a wasm32 build without simd128 succeeded; it must be refused (see wasm/src/lib.rs)" >&2
    exit 1
  fi
  if ! grep -q "must be built with -C target-feature=+simd128" "$TMP/nosimd.log"; then
    echo "build_wasm --check: the build without simd128 failed for another reason:" >&2
    cat "$TMP/nosimd.log" >&2
    exit 1
  fi
  echo "build_wasm --check: core.generated.ts is up to date (wasm sha256 $got_wasm); a build without simd128 is refused"
  exit 0
fi

build_module "$ROOT/wasm/target" "$TMP/core.wasm"
mkdir -p "$(dirname "$OUT_TS")"
write_ts "$TMP/core.wasm" "$TMP/core.generated.ts"
mv "$TMP/core.generated.ts" "$OUT_TS"
echo "build_wasm: wrote src/crypto/_wasm/core.generated.ts ($(wc -c < "$TMP/core.wasm") bytes of wasm, sha256 $(const_of WASM_SHA256 "$OUT_TS"))"
