#!/usr/bin/env python3
"""Compare two safetensors files output by output: max |a - b| over the
largest |b| per float tensor, equality for integer ones. Standard library
only (the GPU machine may have no numpy).

usage: compare_outputs.py A.safetensors B.safetensors TOL
exit 0 when every output is within TOL, 1 otherwise, 2 on bad input."""
import array
import json
import struct
import sys

CODES = {"F32": "f", "BF16": "H", "F16": "e", "I32": "i", "I64": "q", "U8": "B", "BOOL": "B"}


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack_from("<Q", raw, 0)
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        lo, hi = e["data_offsets"]
        dt = e["dtype"]
        if dt == "F16":
            vals = [v[0] for v in struct.iter_unpack("<e", raw[base + lo:base + hi])]
        else:
            a = array.array(CODES[dt])
            a.frombytes(raw[base + lo:base + hi])
            vals = a
            if dt == "BF16":  # widen: the 16 bits are the top of an f32
                vals = array.array("f", struct.pack("<%dI" % len(a), *[h << 16 for h in a]))
        out[name] = (dt, e["shape"], vals)
    return out


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    a, b, tol = load(sys.argv[1]), load(sys.argv[2]), float(sys.argv[3])
    if sorted(a) != sorted(b):
        print("different outputs: %s vs %s" % (sorted(a), sorted(b)))
        return 1
    ok = True
    for name in sorted(a):
        (da, sa, va), (db, sb, vb) = a[name], b[name]
        if da != db or sa != sb:
            print("%s: %s%s vs %s%s" % (name, da, sa, db, sb))
            ok = False
            continue
        if da in ("F32", "BF16", "F16"):
            worst = max((abs(x - y) for x, y in zip(va, vb)), default=0.0)
            scale = max((abs(y) for y in vb), default=0.0)
            rel = worst / scale if scale > 0 else worst
            good = rel <= tol
            print("%-24s %-5s %-20s max|diff| %.3g / max %.3g = %.2e  %s"
                  % (name, da, sa, worst, scale, rel, "ok" if good else "OVER %g" % tol))
        else:
            bad = sum(1 for x, y in zip(va, vb) if x != y)
            good = bad == 0
            print("%-24s %-5s %-20s %d of %d differ  %s"
                  % (name, da, sa, bad, len(va), "ok" if good else "DIFFER"))
        ok = ok and good
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
