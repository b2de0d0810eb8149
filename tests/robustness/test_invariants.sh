#!/usr/bin/env bash
# Checklist A4, A5, A7, A8, A9, A10 at the command line: predict refuses data of
# another shape and damaged models (never a crash, PRED.csv untouched), permuting
# rows permutes predictions exactly, chunked and multi-rank predict equal one-shot
# predict, and predict on the training rows reproduces the fit's training score.
source "$(dirname "$0")/common.sh"
cd "$T"

"$BIN" gen -o g.csv --n 3000 --d 3 --clusters 6 --seed 4 >/dev/null
head -1201 g.csv >train.csv
{ head -1 g.csv; tail -n +1202 g.csv; } >test.csv
n=$(($(wc -l <test.csv) - 1))
expect_exit 0 "$BIN" fit train.csv --target y -o m.bfcr --report run.json
expect_exit 0 "$BIN" predict m.bfcr test.csv -o p.csv
keep m.bfcr p.csv

# A4: other shapes or names: error naming the first mismatch, exit 3.
cut -d, -f1-2,4 test.csv >fewer.csv
expect_err 3 'fewer\.csv:1:3: expected column 3 "x3", found "y"' "$BIN" predict m.bfcr fewer.csv -o p.csv
cut -d, -f1-3 test.csv | sed '1s/$/,x4/; 2,$s/$/,0/' >more.csv
expect_err 3 'more\.csv:1:4: expected' "$BIN" predict m.bfcr more.csv -o p.csv
sed '1s/x2/z2/' test.csv >renamed.csv
expect_err 3 'renamed\.csv:1:2: expected column 2 "x2", found "z2"' \
  "$BIN" predict m.bfcr renamed.csv -o p.csv
sed '1s/x1,x2/x2,x1/' test.csv >swapped.csv
expect_err 3 'swapped\.csv:1:1: expected column 1 "x1", found "x2"' \
  "$BIN" predict m.bfcr swapped.csv -o p.csv
unchanged p.csv

# A5: missing, empty, truncated, damaged and zero-cluster models: exit 5 or 6, one
# message naming the file, PRED.csv untouched.
expect_err 5 'missing\.bfcr: cannot open' "$BIN" predict missing.bfcr test.csv -o p.csv
mkdir adir.bfcr
expect_err 5 'adir\.bfcr: ' "$BIN" predict adir.bfcr test.csv -o p.csv
: >empty.bfcr
expect_err 6 'empty\.bfcr: not a bfcr model file \(empty\)' "$BIN" predict empty.bfcr test.csv -o p.csv
size=$(stat -c %s m.bfcr)
for cut in 1 8 31 32 33 40 100 $((size / 2)) $((size - 9)) $((size - 8)) $((size - 1)); do
  head -c $cut m.bfcr >trunc.bfcr
  expect_err 6 'trunc\.bfcr: .*(truncated|not a bfcr model)' "$BIN" predict trunc.bfcr test.csv -o p.csv
done
python3 - m.bfcr <<'PY'
import struct, sys
def crc64(data):
    poly, crc = 0xC96C5795D7870F42, 0xFFFFFFFFFFFFFFFF
    table = []
    for i in range(256):
        c = i
        for _ in range(8): c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    for b in data: crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFFFFFFFFFF
src = bytearray(open(sys.argv[1], "rb").read())
assert crc64(b"123456789") == 0x995DC9BBDF1939FA
assert struct.unpack_from("<Q", src, len(src) - 8)[0] == crc64(src[:-8]), "checksum recipe"
def sections(b):
    at = 32
    while at < len(b) - 8:
        tag, ln = bytes(b[at:at + 4]).decode(), struct.unpack_from("<Q", b, at + 4)[0]
        yield tag, at + 12, ln
        at += 12 + ln
def save(name, b):
    b[-8:] = struct.pack("<Q", crc64(b[:-8]))
    open(name, "wb").write(b)
secs = {t: (off, ln) for t, off, ln in sections(src)}
# Zero clusters (CENT k = 0, CMOD k = 0, WGHT k = 0), checksum recomputed.
b = bytearray(src)
for t in ("CENT", "CMOD", "WGHT"):
    struct.pack_into("<q", b, secs[t][0], 0)
save("zero_k.bfcr", b)
# A cluster count of 2^62 (an allocation the file cannot back).
b = bytearray(src); struct.pack_into("<q", b, secs["CENT"][0], 1 << 62); save("huge_k.bfcr", b)
# A NaN coefficient (E8), checksum recomputed.
b = bytearray(src); struct.pack_into("<d", b, secs["WGHT"][0] + 12, float("nan")); save("nan_w.bfcr", b)
# One flipped bit in the middle, checksum NOT recomputed (E4).
b = bytearray(src); b[len(b) // 2] ^= 0x10; open("flip.bfcr", "wb").write(b)
PY
expect_err 6 'zero_k\.bfcr: ' "$BIN" predict zero_k.bfcr test.csv -o p.csv
expect_err 6 'huge_k\.bfcr: ' "$BIN" predict huge_k.bfcr test.csv -o p.csv
expect_err 6 'nan_w\.bfcr: .*not finite' "$BIN" predict nan_w.bfcr test.csv -o p.csv
expect_err 6 'flip\.bfcr: checksum mismatch' "$BIN" predict flip.bfcr test.csv -o p.csv
expect_err 6 'flip\.bfcr: checksum mismatch' "$BIN" tree flip.bfcr
unchanged m.bfcr p.csv

# A7: permuting the rows permutes the predictions exactly.
python3 - test.csv <<'PY'
import random, sys
lines = open(sys.argv[1]).read().splitlines()
idx = list(range(len(lines) - 1))
random.Random(7).shuffle(idx)
open("perm.idx", "w").write("\n".join(map(str, idx)) + "\n")
open("perm.csv", "w").write(lines[0] + "\n" + "".join(lines[1 + i] + "\n" for i in idx))
PY
expect_exit 0 "$BIN" predict m.bfcr perm.csv -o perm.pred
python3 - p.csv perm.pred perm.idx <<'PY' || fail "permuted rows do not permute the predictions"
import sys
a = open(sys.argv[1]).read().split()[1:]
b = open(sys.argv[2]).read().split()[1:]
idx = [int(x) for x in open(sys.argv[3]).read().split()]
assert len(a) == len(b) == len(idx)
assert all(b[k] == a[i] for k, i in enumerate(idx))
PY

# A8: chunks of 1, 7 and n rows give the same bytes as one-shot predict (on the first
# 60 test rows: one process per chunk).
head -61 test.csv >sub.csv
expect_exit 0 "$BIN" predict m.bfcr sub.csv -o sub.pred
for chunk in 1 7 60; do
  tail -n +2 sub.csv | split -l $chunk -d -a 5 - part.
  echo prediction >chunked.pred
  for f in part.*; do
    { head -1 sub.csv; cat "$f"; } >chunk.csv
    "$BIN" predict m.bfcr chunk.csv -o chunk.pred >/dev/null 2>&1 || fail "chunk $chunk: predict failed"
    tail -n +2 chunk.pred >>chunked.pred
  done
  rm -f part.*
  cmp -s chunked.pred sub.pred || fail "predicting in chunks of $chunk rows differs from one shot"
done
# ... and over 1..4 ranks.
if command -v "$MPIEXEC" >/dev/null; then
  for np in 2 3 4; do
    mpi $np predict m.bfcr test.csv -o p$np.csv >"$T/out" 2>"$T/err" ||
      fail "np=$np predict failed: $(cat "$T/err")"
    cmp -s p$np.csv p.csv || fail "np=$np predictions differ from 1 rank"
  done
fi

# A9 (command line part): predicting twice with the same model gives the same bytes.
expect_exit 0 "$BIN" predict m.bfcr test.csv -o p_again.csv
cmp -s p_again.csv p.csv || fail "two predicts with one model differ"

# A10: predict on the training rows reproduces the fit's training scores.
expect_exit 0 "$BIN" predict m.bfcr train.csv -o ptrain.csv --truth y
python3 - run.json "$T/out" <<'PY' || fail "training scores from fit and predict differ"
import json, re, sys
r = json.load(open(sys.argv[1]))
m = re.search(r"RMSE (\S+)\s+MAE (\S+)", open(sys.argv[2]).read())
rmse, mae = float(m.group(1)), float(m.group(2))
assert abs(rmse - r["train_rmse"]) <= 1e-5 * r["train_rmse"], (rmse, r["train_rmse"])
PY
echo "ok"
