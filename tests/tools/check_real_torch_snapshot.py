"""tools/torch_snapshot_to_trace.py on a snapshot PyTorch recorded on a GPU
(not written by hand): a cs336 Transformer LM training step, see
tests/tools/REAL_SNAPSHOT.md for where it comes from. The file is committed
under tests/data/torch_snapshots/ (MIT, its licence beside it);
$SF_TORCH_SNAPSHOT points at another copy, and a missing file exits 77
(SKIP). Run by CTest as `memviz_torch_snapshot_real`.

The figures are checked three ways: numbers written here, numbers this
script works out from the pickle without the converter (walking the trace
backwards from the snapshot's own end state, where the converter walks it
forwards from what it infers was live before), and what the converter and
`shardflow memviz --summary` report."""

import hashlib
import io
import json
import os
import pickle
import subprocess
import sys
import tempfile

SRC = os.environ.get("SF_SOURCE_DIR",
                     os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
TOOL = os.path.join(SRC, "tools", "torch_snapshot_to_trace.py")
SHARDFLOW = os.environ.get("SF_SHARDFLOW", os.path.join(SRC, "build", "shardflow"))
SNAPSHOT = os.environ.get("SF_TORCH_SNAPSHOT", os.path.join(
    SRC, "tests", "data", "torch_snapshots", "cs336_a2_memory_snapshot.pickle"))
SHA256 = "c8ec7616923c91af2777249867e0bb16cf6fa888dcc85b3b89a202b19e43c7a1"

# Worked out once from the pickle by backward_figures() and written here, so
# a change that moved both the converter and that function would show.
PEAK_ALLOCATED = 13923997700   # 12.97 GiB, at an alloc in log_softmax
PEAK_RESERVED = 14180941824    # every segment predates the trace
END_ALLOCATED = 1373919236     # the active blocks' requested_size, summed
ENTRIES = 5163                 # 1721 alloc, 1721 free_requested, 1721 free_completed
BUFFERS = 1950                 # 1721 allocated in the trace + 229 live before it


class _NoClasses(pickle.Unpickler):
    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"class {module}.{name} in a snapshot")


def backward_figures(snap):
    """(peak allocated, end allocated, peak reserved): start from the
    segments (the state when the snapshot was taken) and undo the trace
    entry by entry."""
    segs = snap["segments"]
    alloc = sum(b["requested_size"] for s in segs for b in s["blocks"]
                if b["state"] in ("active_allocated", "active_awaiting_free"))
    reserved = sum(s["total_size"] for s in segs)
    end, peak_a, peak_r = alloc, alloc, reserved
    for e in reversed(snap["device_traces"][0]):
        a = e["action"]
        alloc += {"alloc": -e["size"], "free_completed": e["size"]}.get(a, 0)
        reserved += {"segment_alloc": -e["size"], "segment_free": e["size"]}.get(a, 0)
        peak_a, peak_r = max(peak_a, alloc), max(peak_r, reserved)
    return peak_a, end, peak_r


def check(cond, what):
    if not cond:
        print(f"FAIL: {what}")
        sys.exit(1)
    print(f"ok: {what}")


def convert(path, out):
    p = subprocess.run([sys.executable, TOOL, path, "-o", out], capture_output=True, text=True)
    check(p.returncode == 0, f"converter exit 0 ({p.stderr.strip()})")
    with open(out) as f:
        return json.load(f)


def counter_max_end(trace, name):
    v = [e["args"]["bytes"] for e in trace["traceEvents"] if e["ph"] == "C" and e["name"] == name]
    return max(v), v[-1]


def main():
    if not os.path.exists(SNAPSHOT):
        print(f"SKIP: no real PyTorch snapshot at {SNAPSHOT} (tests/tools/REAL_SNAPSHOT.md "
              "says how to put it there)")
        return 77
    with open(SNAPSHOT, "rb") as f:
        data = f.read()
    check(hashlib.sha256(data).hexdigest() == SHA256, "the snapshot is the one recorded here")
    snap = _NoClasses(io.BytesIO(data)).load()
    check(len(snap["device_traces"][0]) == ENTRIES, f"{ENTRIES} trace entries")
    peak_a, end_a, peak_r = backward_figures(snap)
    check((peak_a, end_a, peak_r) == (PEAK_ALLOCATED, END_ALLOCATED, PEAK_RESERVED),
          f"backward replay: peak {peak_a}, end {end_a}, reserved {peak_r}")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "measured.json")
        trace = convert(SNAPSHOT, out)
        check(counter_max_end(trace, "allocated") == (PEAK_ALLOCATED, END_ALLOCATED),
              "converter's allocated counter: the same peak and end")
        check(counter_max_end(trace, "reserved")[0] == PEAK_RESERVED,
              "converter's reserved counter: the same peak")
        names = [e["args"]["tensor"] for e in trace["traceEvents"]
                 if e["ph"] == "b" and e.get("cat") == "buffer"]
        check(len(names) == BUFFERS, f"{BUFFERS} buffers")
        # Recorded on Windows: frames carry backslash paths.
        check("forward model.py:101" in names and not any("\\" in n for n in names),
              "buffers named 'function file.py:line', folders dropped")
        p = subprocess.run([SHARDFLOW, "memviz", "--summary", out, "--json"],
                           capture_output=True, text=True)
        check(p.returncode == 0, f"memviz --summary exit 0 ({p.stderr.strip()})")
        r = json.loads(p.stdout)["ranks"][0]
        check((r["peak_bytes"], r["peak_node"], r["end_bytes"], r["buffers"]) ==
              (PEAK_ALLOCATED, "log_softmax", END_ALLOCATED, BUFFERS),
              f"memviz: peak {r['peak_bytes']} at {r['peak_node']}, end {r['end_bytes']}")
        # The segments alone (no history) end where the replay ends.
        alone = os.path.join(tmp, "segments.pickle")
        with open(alone, "wb") as f:
            pickle.dump({"segments": snap["segments"]}, f)
        seg_trace = convert(alone, os.path.join(tmp, "segments.json"))
        check(counter_max_end(seg_trace, "allocated")[1] == END_ALLOCATED,
              "the segments form ends at the same allocated bytes")
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
