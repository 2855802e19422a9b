#!/usr/bin/env python3
"""Writes the seed corpora of the reader and one-op model fuzz targets.

Run from the repository root: python3 fuzz/make_seeds.py. It rewrites
fuzz/corpus/kiln_fuzz_{idx,csv,tlg8_jsonl,kbds} (small valid files, plain
and gzip, each behind the target's mode byte; see each fuzz/*_fuzzer.cc)
and writes candidate inputs for kiln_fuzz_op_model / kiln_fuzz_differential
into the directory given with --op-candidates (they are then merged into
the corpus with libFuzzer's -merge=1, which keeps the ones the builder
accepts and that add coverage). Deterministic: same files every run.
"""
import argparse
import gzip
import os
import random
import struct
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def gz(data):
    return gzip.compress(data, mtime=0)


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def idx(rank, dims, payload):
    return struct.pack(">I", 0x800 | rank) + b"".join(
        struct.pack(">I", d) for d in dims) + bytes(payload)


def idx_seeds():
    t = "kiln_fuzz_idx"
    labels = idx(1, [4], [0, 1, 2, 1])
    images = idx(3, [4, 2, 3], range(24))
    write(t, "labels.idx1", b"\x00" + labels)        # rank 1
    write(t, "images.idx3", b"\x04" + images)        # rank 3
    write(t, "images.idx3.gz", b"\x04" + gz(images))
    write(t, "rank2.idx", b"\x02" + idx(2, [2, 3], range(6)))
    pair = struct.pack("<H", len(images)) + images + labels
    write(t, "pair", b"\x01" + pair)
    write(t, "pair_named", b"\x03" + pair)
    gi, gl = gz(images), gz(labels)
    write(t, "pair.gz", b"\x01" + struct.pack("<H", len(gi)) + gi + gl)


def csv_seeds():
    t = "kiln_fuzz_csv"
    write(t, "label.csv", b"\x00label,a,b\n0,1.5,2\n1,-3,4e2\n2,0,.5\n")
    write(t, "label_words.csv",
          b"\x00\xef\xbb\xbfa, label ,b\r\n1,cat,2\r\n3,dog,4\r\n5,\"cat\",6")
    write(t, "quoted.csv",
          b"\x00label,\"x,1\",y\n\"1\",\"2\",3\n\n0,4,\"5\"\n")
    write(t, "target.csv", b"\x01x1,x2,y\n1,2,3\n4,5,6\n-1e-3,inf,2\n")
    write(t, "targets.csv", b"\x02a,y,z\n1,2,3\n4,5,6\n")
    write(t, "label.csv.gz", b"\x00" + gz(b"label,a\n0,1\n1,2\n"))


def tlg8_seeds():
    t = "kiln_fuzz_tlg8_jsonl"
    with open(os.path.join(ROOT, "tests", "data", "tlg8", "sample.jsonl"),
              "rb") as f:
        lines = f.read().splitlines(keepends=True)
    write(t, "one.jsonl", b"\x00" + lines[0])
    write(t, "two_strict.jsonl", b"\x01" + lines[1] + lines[2])
    write(t, "bad_line.jsonl", b"\x00" + lines[3] + b"{\"image\":1}\n" +
          lines[4].rstrip(b"\n"))
    write(t, "two.jsonl.gz", b"\x00" + gz(lines[5] + lines[6]))
    second_null = lines[7].replace(b'"second":{', b'"second":null,"x":{')
    write(t, "second_null.jsonl", b"\x00" + second_null)


def kbds_file(names, records):
    payload = b"".join(struct.pack("<H", len(n)) + n for n in names)
    for image, block, seed in records:
        r = random.Random(seed)
        rec = struct.pack("<HI", image, block)
        rec += bytes(r.randrange(256) for _ in range(270))
        rec += bytes([r.randrange(8), r.randrange(6) << 4 | r.randrange(16),
                      r.randrange(8), r.randrange(2)] * 2)
        rec += struct.pack("<II", r.randrange(900), r.randrange(900))
        rec += b"".join(struct.pack("<I", r.randrange(2000))
                        for _ in range(128))
        rec += struct.pack("<I", r.randrange(12288 + 1))
        assert len(rec) == 808
        payload += rec
    header = b"KBDS" + struct.pack("<III", 1, 808, len(names))
    header += struct.pack("<QQII", len(records), len(payload),
                          zlib.crc32(payload), 0)
    return header + payload


def kbds_seeds():
    t = "kiln_fuzz_kbds"
    one = kbds_file([b"astronaut"], [(0, 0, 1)])
    two = kbds_file([b"a", b"coffee"], [(0, 3, 2), (1, 0, 3)])
    empty = kbds_file([b"x"], [])
    # Mode byte: odd = taken as is, even = CRC recomputed by the target.
    write(t, "one.kbds", b"\x01" + one)
    write(t, "two.kbds", b"\x01" + two)
    write(t, "empty.kbds", b"\x01" + empty)
    write(t, "two.kbds.gz", b"\x01" + gz(two))
    write(t, "fixcrc.kbds", b"\x00" + two)


def op_candidates(out_dir, per_op=15):
    os.makedirs(out_dir, exist_ok=True)
    r = random.Random(1)
    for op in range(15):
        for i in range(per_op):
            # Op kind, batch, items, then sane scales (mode byte != 15 mod 16,
            # exponent byte near 0) are likelier from small random bytes.
            body = bytes(r.randrange(256) for _ in range(r.randrange(8, 200)))
            data = bytes([op, r.randrange(4), r.randrange(9)]) + body
            with open(os.path.join(out_dir, "op%02d_%03d" % (op, i)),
                      "wb") as f:
                f.write(data)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--op-candidates")
    a = p.parse_args()
    idx_seeds()
    csv_seeds()
    tlg8_seeds()
    kbds_seeds()
    if a.op_candidates:
        op_candidates(a.op_candidates)


if __name__ == "__main__":
    main()
