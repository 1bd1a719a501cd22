#!/usr/bin/env bash
# Writes the seed corpus of the IDX fuzzer: a few small, valid and broken IDX files that lead
# it to the interesting paths (raw, gzip, each kind of rejection) from the first run.
# Usage: fuzz/make_seed_corpus.sh [FOLDER]    (default fuzz/corpus/idx; the files are committed)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-fuzz/corpus/idx}
mkdir -p "$out"

# u32 N: N as the four big-endian bytes of an IDX header field.
u32() {
  printf '%b' "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' \
    $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)))"
}

# images: two 28x28 images, a "1" (a vertical bar) and a "0" (a ring), white on black.
images() {
  local n r c value escaped=''
  for n in 0 1; do
    for ((r = 0; r < 28; r++)); do
      for ((c = 0; c < 28; c++)); do
        value=0
        if [ "$n" -eq 0 ] && [ "$r" -ge 5 ] && [ "$r" -lt 23 ] && [ "$c" -ge 13 ] && [ "$c" -lt 16 ]; then
          value=255
        elif [ "$n" -eq 1 ] && [ "$r" -ge 6 ] && [ "$r" -lt 22 ] && [ "$c" -ge 8 ] && [ "$c" -lt 20 ] &&
          { [ "$r" -lt 9 ] || [ "$r" -ge 19 ] || [ "$c" -lt 11 ] || [ "$c" -ge 17 ]; }; then
          value=200
        fi
        printf -v escaped '%s\\x%02x' "$escaped" "$value"
      done
    done
  done
  printf '%b' "$escaped"
}

# A 1-D labels file of ten labels, 0 to 9 (magic 0x00000801).
{ printf '\x00\x00\x08\x01'; u32 10; printf '\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09'; } \
  >"$out/labels-10.idx"
# A 3-D images file, 2x28x28 (magic 0x00000803), raw and gzip-compressed.
{ printf '\x00\x00\x08\x03'; u32 2; u32 28; u32 28; images; } >"$out/images-2x28x28.idx"
gzip -9nc "$out/images-2x28x28.idx" >"$out/images-2x28x28.idx.gz"
# The same cut short: raw (payload shorter than the header says) and mid gzip stream.
head -c 1000 "$out/images-2x28x28.idx" >"$out/images-truncated.idx"
gz_size=$(wc -c <"$out/images-2x28x28.idx.gz")
head -c $((gz_size / 2)) "$out/images-2x28x28.idx.gz" >"$out/images-truncated.idx.gz"
# Two gzip members, one after the other (what `cat a.gz b.gz` makes): one valid stream.
{ printf '\x00\x00\x08\x01' | gzip -9nc; { u32 3; printf '\x07\x08\x09'; } | gzip -9nc; } \
  >"$out/labels-3-two-members.idx.gz"
# The wrong magic: a file of floats (type code 0x0d), which the reader does not take.
{ printf '\x00\x00\x0d\x01'; u32 2; printf '\x3f\x80\x00\x00\x40\x00\x00\x00'; } \
  >"$out/wrong-magic-float.idx"

ls -l "$out"
