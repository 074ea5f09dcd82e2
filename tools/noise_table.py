#!/usr/bin/env python3
"""Reference implementation of evoforge's shared noise table (docs/noise-table.md), numpy only.

Regenerate the golden vectors (the Rust test core/tests/noise_golden.rs checks them):

    python3 tools/noise_table.py --golden > core/tests/fixtures/noise_golden.json

Other uses:

    python3 tools/noise_table.py --check core/tests/fixtures/noise_golden.json
    python3 tools/noise_table.py --seed 123 --start 4294967290 --count 8
    python3 tools/noise_table.py --hash 0 0x8000000000000000 ...     # transform raw hash words
    python3 tools/noise_table.py --constants                          # the spec's constant tables

Slices and hashes print one value a line: the f32 bit pattern as 8 hex digits, then the value as
a decimal that parses back to exactly that f32.

Every operation below is an integer operation (uint64, wrapping) or a correctly rounded IEEE
binary64 operation (+, -, *, /, sqrt) applied elementwise in the order the specification gives,
so the results equal the Rust table bit for bit. np.log is deliberately not used: it is not
correctly rounded and its last bit varies with the platform and numpy's SIMD dispatch.
"""

import argparse
import json
import random
import re
import sys

import numpy as np

GENERATOR = "evoforge-noise-v1"
GOLDEN_COMMAND = "python3 tools/noise_table.py --golden > core/tests/fixtures/noise_golden.json"

U64 = np.uint64
GOLDEN = 0x9E3779B97F4A7C15
DOMAIN = 0xBB67AE8584CAA73B
MASK52 = (1 << 52) - 1
TWO_POW_M54 = 2.0**-54

SPLIT1 = 0.425
SPLIT2 = 5.0
CONST1 = 0.180625
CONST2 = 1.6
# AS241 (Wichura 1988), PPND16; index k holds the coefficient of t**k.
A = [3.3871328727963666080e0, 1.3314166789178437745e+2, 1.9715909503065514427e+3,
     1.3731693765509461125e+4, 4.5921953931549871457e+4, 6.7265770927008700853e+4,
     3.3430575583588128105e+4, 2.5090809287301226727e+3]
B = [1.0, 4.2313330701600911252e+1, 6.8718700749205790830e+2, 5.3941960214247511077e+3,
     2.1213794301586595867e+4, 3.9307895800092710610e+4, 2.8729085735721942674e+4,
     5.2264952788528545610e+3]
C = [1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0,
     3.64784832476320460504e0, 1.27045825245236838258e0, 2.41780725177450611770e-1,
     2.27238449892691845833e-2, 7.74545014278341407640e-4]
D = [1.0, 2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1,
     1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4,
     1.05075007164441684324e-9]
E = [6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0,
     2.96560571828504891230e-1, 2.65321895265761230930e-2, 1.24266094738807843860e-3,
     2.71155556874348757815e-5, 2.01033439929228813265e-7]
F = [1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
     7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7,
     2.04426310338993978564e-15]


def _from_bits(b):
    return float(np.array([b], dtype=U64).view(np.float64)[0])


# fdlibm e_log.c, as bit patterns.
LN2_HI = _from_bits(0x3FE62E42FEE00000)
LN2_LO = _from_bits(0x3DEA39EF35793C76)
LG1 = _from_bits(0x3FE5555555555593)
LG2 = _from_bits(0x3FD999999997FA04)
LG3 = _from_bits(0x3FD2492494229359)
LG4 = _from_bits(0x3FCC71C51D8E78AF)
LG5 = _from_bits(0x3FC7466496CB03DE)
LG6 = _from_bits(0x3FC39A09D078C69F)
LG7 = _from_bits(0x3FC2F112DF3E5244)
SQRT2 = _from_bits(0x3FF6A09E667F3BCD)


def mix(z):
    """SplitMix64 finaliser on a uint64 array (numpy's uint64 multiply wraps mod 2**64)."""
    z = z ^ (z >> U64(30))
    z = z * U64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> U64(27))
    z = z * U64(0x94D049BB133111EB)
    return z ^ (z >> U64(31))


def seed_key(seed):
    return int(mix(np.array([seed ^ DOMAIN], dtype=U64))[0])


def hashes(seed, start, count):
    """h(i) = mix(key ^ mix((i + 1) * GOLDEN)) for i = start .. start + count - 1 (mod 2**64)."""
    i = U64(start) + np.arange(count, dtype=U64)
    return mix(U64(seed_key(seed)) ^ mix((i + U64(1)) * U64(GOLDEN)))


def ln(x):
    """fdlibm's log without its special cases, for positive normal float64 arrays."""
    bits = x.view(U64)
    k = (bits >> U64(52)).astype(np.int64) - 1023
    m = ((bits & U64(0x000FFFFFFFFFFFFF)) | U64(0x3FF0000000000000)).view(np.float64)
    big = m > SQRT2
    m = np.where(big, m * 0.5, m)
    k = k + big
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (LG2 + w * (LG4 + w * LG6))
    t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)))
    r = t2 + t1
    hfsq = 0.5 * f * f
    dk = k.astype(np.float64)
    return dk * LN2_HI - ((hfsq - (s * (hfsq + r) + dk * LN2_LO)) - f)


def horner(t, c):
    acc = np.full_like(t, c[7])
    for k in range(6, -1, -1):
        acc = acc * t + c[k]
    return acc


def upper_quantile(r):
    """Phi^-1(1 - r) for a float64 array r in (0, 1/2), AS241."""
    q = 0.5 - r
    z = np.empty_like(r)
    central = q <= SPLIT1
    qc = q[central]
    t = CONST1 - qc * qc
    z[central] = qc * horner(t, A) / horner(t, B)
    tail = ~central
    t = np.sqrt(-ln(r[tail]))
    near = t <= SPLIT2
    zt = np.empty_like(t)
    tn = t[near] - CONST2
    zt[near] = horner(tn, C) / horner(tn, D)
    tf = t[~near] - SPLIT2
    zt[~near] = horner(tf, E) / horner(tf, F)
    z[tail] = zt
    return z


def normal_from_bits(h):
    """Table values (float32) for a uint64 array of hash words."""
    h = np.asarray(h, dtype=U64)
    m = (h >> U64(11)) & U64(MASK52)
    r = (U64(2) * m + U64(1)).astype(np.float64) * TWO_POW_M54
    z = upper_quantile(r)
    z = np.where((h >> U64(63)) == U64(1), -z, z)
    return z.astype(np.float32)


def fill(seed, start, count, chunk=1 << 22):
    """Values at indices start .. start + count - 1 (mod 2**64) of the table of seed."""
    out = np.empty(count, dtype=np.float32)
    for a in range(0, count, chunk):
        n = min(chunk, count - a)
        out[a:a + n] = normal_from_bits(hashes(seed, (start + a) % 2**64, n))
    return out


def table(seed, length):
    """The whole table of seed with length values."""
    return fill(seed, 0, length)


def index_from_word(word, length, dim):
    """Start index in 0 ..= length - dim from a uniform 64-bit word: floor(word * n / 2**64)."""
    if dim > length:
        raise ValueError("slice does not fit in the table")
    return (word * (length - dim + 1)) >> 64


def bits_of(values):
    return [int(b) for b in np.asarray(values, dtype=np.float32).view(np.uint32)]


def decimal(v):
    # repr of the float64 equal to the float32: parses back to exactly that float32, whether it
    # is read as binary32 directly or as binary64 and then narrowed (no double rounding).
    return float(np.float32(v))


def golden():
    slices = [
        (0, 0, 16),
        (123, 0, 16),
        (123, 2**32 - 8, 16),  # crosses 2**32
        (2**64 - 1, 2**40 - 3, 16),  # crosses 2**40
        (42, 2**40 + 123456789, 8),
        (1, 1_000_000, 32),
        (0x0123456789ABCDEF, 2**64 - 4, 8),  # indices wrap mod 2**64
    ]
    out = {"generator": GENERATOR, "command": GOLDEN_COMMAND, "slices": [], "transform": [],
           "indices": []}
    for seed, start, count in slices:
        v = fill(seed, start, count)
        out["slices"].append({"seed": seed, "start": start, "bits": bits_of(v),
                              "values": [decimal(x) for x in v]})
    # Hash words chosen to reach every branch and both ends of each.
    words = [0, 1 << 63, 2**64 - 1, 2**63 - 1, 0x7FF, 0x800]
    m_split1 = int((0.075 * 2**54 - 1) / 2)  # r = 0.075, q = 0.425: central / tail
    m_split2 = int((np.exp(-25.0) * 2**54 - 1) / 2)  # sqrt(-ln r) = 5: near / far tail
    for m0 in (m_split1, m_split2):
        for dm in range(-2, 3):
            words.append((m0 + dm) << 11)
            words.append(((m0 + dm) << 11) | (1 << 63))
    for e in range(0, 52, 3):
        words.append((1 << e) << 11)
    rng = random.Random(20260101)
    words += [rng.getrandbits(64) for _ in range(16)]
    vals = normal_from_bits(np.array(words, dtype=U64))
    for w, v in zip(words, vals):
        out["transform"].append({"hash": w, "bits": bits_of([v])[0], "value": decimal(v)})
    for word, length, dim in [(0, 2**28, 10**6), (2**64 - 1, 2**28, 10**6), (2**63, 2**28, 1),
                              (0x0123456789ABCDEF, 250_000_000, 1_700_000),
                              (rng.getrandbits(64), 2**25, 4096), (2**64 - 1, 7, 7)]:
        out["indices"].append({"word": word, "len": length, "dim": dim,
                               "index": index_from_word(word, length, dim)})
    return out


def check(path):
    with open(path) as f:
        gold = json.load(f)
    failures = []
    if gold.get("generator") != GENERATOR:
        failures.append("generator %r, expected %r" % (gold.get("generator"), GENERATOR))
    for s in gold["slices"]:
        v = fill(s["seed"], s["start"], len(s["bits"]))
        if bits_of(v) != s["bits"]:
            failures.append("slice seed=%d start=%d" % (s["seed"], s["start"]))
        if [bits_of([np.float32(x)])[0] for x in s["values"]] != s["bits"]:
            failures.append("decimals of slice seed=%d start=%d" % (s["seed"], s["start"]))
    t = gold["transform"]
    v = normal_from_bits(np.array([c["hash"] for c in t], dtype=U64))
    for c, b in zip(t, bits_of(v)):
        if b != c["bits"] or bits_of([np.float32(c["value"])])[0] != b:
            failures.append("transform of hash %#x" % c["hash"])
    for c in gold["indices"]:
        if index_from_word(c["word"], c["len"], c["dim"]) != c["index"]:
            failures.append("index of word %#x" % c["word"])
    n = len(gold["slices"]), len(t), len(gold["indices"])
    if failures:
        print("noise table reference DIFFERS from %s:" % path)
        for f in failures:
            print("  " + f)
        return 1
    print("noise table reference matches %s (%d slices, %d hash words, %d indices)" % (path, *n))
    return 0


def print_values(values):
    lines = ["%08x %r" % (b, decimal(x)) for b, x in zip(bits_of(values), values)]
    sys.stdout.write("\n".join(lines) + ("\n" if lines else ""))


def constants_markdown():
    """The AS241 coefficients as f64 bit patterns, in the layout of docs/noise-table.md."""
    cols = [A, B, C, D, E, F]
    rows = ["| k | A_k | B_k | C_k | D_k | E_k | F_k |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for k in range(8):
        cells = ["`%016x`" % int(np.float64(c[k]).view(U64)) for c in cols]
        rows.append("| %d | %s |" % (k, " | ".join(cells)))
    return "\n".join(rows)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--golden", action="store_true", help="print the golden-vector JSON")
    g.add_argument("--check", metavar="FILE", help="compare against a golden-vector JSON")
    g.add_argument("--count", type=int, help="print COUNT values from --start of --seed's table")
    g.add_argument("--hash", nargs="*", metavar="WORD", help="transform 64-bit hash words")
    g.add_argument("--constants", action="store_true", help="print the AS241 constant table")
    p.add_argument("--seed", type=lambda s: int(s, 0), default=0)
    p.add_argument("--start", type=lambda s: int(s, 0), default=0)
    a = p.parse_args()
    if a.golden:
        # One line per array, so that a diff of the file shows which values changed.
        text = json.dumps(golden(), indent=1)
        flat = lambda m: "[" + " ".join(m.group(1).split()) + "]"
        text = re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", flat, text)
        sys.stdout.write(text + "\n")
    elif a.check:
        return check(a.check)
    elif a.count is not None:
        print_values(fill(a.seed % 2**64, a.start % 2**64, a.count))
    elif a.hash is not None:
        print_values(normal_from_bits(np.array([int(w, 0) for w in a.hash], dtype=U64)))
    else:
        print(constants_markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
