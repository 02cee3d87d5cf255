#!/usr/bin/env python3
"""Convert a PyTorch CUDA memory snapshot into the Chrome trace memviz reads.

    python3 tools/torch_snapshot_to_trace.py SNAPSHOT.pickle -o measured.json [--rank R]
    shardflow memviz plan.json measured.json -o compare.html

SNAPSHOT.pickle is what torch.cuda.memory._dump_snapshot() writes (pickle of
torch.cuda.memory._snapshot()). Only Python's standard library is needed: the
pickle holds dicts, lists, tuples, strings and numbers, and it is read with
an Unpickler that refuses every class, so a snapshot cannot run code.

Two forms are read, as torch/cuda/memory.py and torch/cuda/_memory_viz.py
describe them:

* device_traces (memory history recorded): one list of trace entries per
  device, each with an action: alloc, free_requested, free_completed,
  segment_alloc, segment_free, segment_map, segment_unmap, snapshot, oom
  (annotate and unknown actions are skipped). A block lives from its alloc
  to its free_completed (the moment the allocator may hand it out again);
  free_requested is kept as an argument of the buffer. A block freed in the
  trace but never allocated there, or active in `segments` without an alloc
  in the trace, was allocated before the trace began: it starts at event 0.
* segments only (no history, or the older form whose blocks carry a
  `history` list): every active block (each `history` entry of one) becomes
  a buffer allocated in address order and live at the end.

Per device (pid = the device index, or --rank for a single device): a buffer
per block ("b"/"e" events of cat "buffer"; tensor = a name from the block's
frames, see frame_label(); bytes = requested_bytes = the requested size,
which is all a trace entry records, and block_bytes = the rounded block
where `segments` gives it), an "allocated" counter, a
"reserved" counter and one span per segment (cat "segment"), and instant
events for snapshot and oom entries. Timestamps are the entries' time_us
when present, else the entry index (microseconds), so the x axis in events
is the same either way.

Exit status: 0 ok, 2 bad input (not a snapshot, a class in the pickle, a
malformed entry; nothing is written), 1 an I/O error on the output.
"""

import argparse
import io
import json
import os
import pickle
import re
import sys
import tempfile


class SnapshotError(Exception):
    """A snapshot that cannot be converted: bad input, exit 2."""


class _PlainUnpickler(pickle.Unpickler):
    """Loads only what the pickle protocol builds without importing a name."""

    def find_class(self, module, name):
        raise SnapshotError(
            f"the pickle asks for {module}.{name}: a memory snapshot holds only "
            "dicts, lists, strings and numbers (refusing to load classes)")


def load_snapshot(data):
    try:
        obj = _PlainUnpickler(io.BytesIO(data)).load()
    except SnapshotError:
        raise
    except Exception as e:  # every way a pickle can be malformed
        raise SnapshotError(f"not a readable pickle: {type(e).__name__}: {e}") from None
    if not isinstance(obj, dict):
        raise SnapshotError(f"a snapshot is a dict, this pickle holds a {type(obj).__name__}")
    if "segments" not in obj and "device_traces" not in obj:
        raise SnapshotError("a snapshot has 'segments' or 'device_traces'; this dict has "
                            f"neither (keys: {sorted(map(str, obj))[:8]})")
    return obj


def _int(d, key, where):
    v = d.get(key) if isinstance(d, dict) else None
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise SnapshotError(f"{where}: '{key}' must be a non-negative integer, got {v!r}")
    return v


def _list(d, key, where, default=None):
    v = d.get(key, default) if isinstance(d, dict) else None
    if not isinstance(v, (list, tuple)):
        raise SnapshotError(f"{where}: '{key}' must be a list, got {type(v).__name__}")
    return v


# Frames of the allocator and of the stack capture itself: every block of a
# snapshot recorded with C++ stacks (stacks="all", the default of current
# PyTorch) starts with them, so "the first frame" would name every block
# "torch::unwind::unwind()".
_CAPTURE_FRAMES = ("unwind::unwind", "CapturedTraceback", "gather_with_cpp",
                   "CUDACachingAllocator")
_ATEN_OP = re.compile(r"\bat::_ops::(\w+)::(?:call|redispatch)\b")
_AUTOGRAD_NODE = re.compile(r"\btorch::autograd::generated::(\w+)::apply\b")


def _basename(path):
    # Snapshots recorded on Windows carry backslash paths.
    return re.split(r"[/\\]", str(path))[-1]


def frame_label(frames, addr):
    """(buffer name, node) for a block from its frames, innermost first.

    The innermost Python frame (a .py file) names it "function file.py:line"
    (node: the function): that is the line of the user's program. A block
    with C++ frames only (autograd's backward runs on its own thread) is
    named by the first ATen op on its stack, "aten::mm", with the autograd
    node that called it, "aten::mm (MmBackward0)" (node: "aten::mm"). Other
    stacks: the first frame that is not the allocator's or the capture's.
    """
    if not isinstance(frames, (list, tuple)):
        frames = []
    frames = [f for f in frames if isinstance(f, dict)]
    for f in frames:
        fname = str(f.get("filename", ""))
        if fname.endswith(".py"):
            func = str(f.get("name", "?"))
            return f"{func} {_basename(fname)}:{f.get('line', '?')}", func
    names = [str(f.get("name", "")) for f in frames]
    for n in names:
        m = _ATEN_OP.search(n)
        if m:
            op = f"aten::{m.group(1)}"
            node = next((g.group(1) for g in map(_AUTOGRAD_NODE.search, names) if g), None)
            return (f"{op} ({node})" if node else op), op
    for f, n in zip(frames, names):
        if not any(c in n for c in _CAPTURE_FRAMES):
            func = n.split("(", 1)[0] or "?"
            return f"{func} {_basename(f.get('filename', '?'))}:{f.get('line', '?')}", func
    return f"block 0x{addr:x}", "<no frames>"


class TraceWriter:
    """Chrome trace events for one device, in memviz's shape."""

    def __init__(self, pid, label):
        self.pid = pid
        self.events = [
            {"ph": "M", "pid": pid, "tid": 0, "ts": 0, "name": "process_name",
             "args": {"name": label}},
            {"ph": "M", "pid": pid, "tid": 0, "ts": 0, "name": "process_sort_index",
             "args": {"sort_index": pid}},
        ]
        self.next_id = 0
        self.allocated = 0
        self.reserved = 0
        self.peak_allocated = 0
        self.peak_reserved = 0

    def _counter(self, name, ts, value):
        self.events.append({"ph": "C", "pid": self.pid, "tid": 0, "ts": ts, "name": name,
                            "args": {"bytes": value}})

    def alloc(self, ts, name, node, size, extra=None):
        """size: the requested bytes, what every trace entry records."""
        bid = self.next_id
        self.next_id += 1
        self.allocated += size
        self.peak_allocated = max(self.peak_allocated, self.allocated)
        self._counter("allocated", ts, self.allocated)
        args = {"tensor": name, "shape": f"[{size}]", "dtype": "u8", "bytes": size,
                "requested_bytes": size, "alloc_node": node}
        if extra:
            args.update(extra)
        self.events.append({"ph": "b", "pid": self.pid, "tid": 0, "ts": ts, "cat": "buffer",
                            "name": name, "id2": {"local": hex(bid)}, "args": args})
        return bid

    def free(self, ts, bid, name, size, node, extra=None):
        self.allocated -= size
        self._counter("allocated", ts, self.allocated)
        args = {"free_node": node}
        if extra:
            args.update(extra)
        self.events.append({"ph": "e", "pid": self.pid, "tid": 0, "ts": ts, "cat": "buffer",
                            "name": name, "id2": {"local": hex(bid)}, "args": args})

    def segment(self, ts, addr, size, begin, action):
        self.reserved += size if begin else -size
        if self.reserved < 0:
            raise SnapshotError(f"device {self.pid}: {action} of 0x{addr:x} ({size} bytes) "
                                "leaves a negative reserved total")
        self.peak_reserved = max(self.peak_reserved, self.reserved)
        self._counter("reserved", ts, self.reserved)
        self.events.append({"ph": "b" if begin else "e", "pid": self.pid, "tid": 1, "ts": ts,
                            "cat": "segment", "name": f"segment 0x{addr:x}",
                            "id2": {"local": f"seg-0x{addr:x}-{size}"},
                            "args": {"bytes": size, "action": action}})

    def instant(self, ts, name, args):
        self.events.append({"ph": "i", "pid": self.pid, "tid": 0, "ts": ts, "s": "p",
                            "name": name, "args": args})


def _segments_of(snap, device):
    segs = _list(snap, "segments", "snapshot", default=[])
    out = []
    for k, s in enumerate(segs):
        if not isinstance(s, dict):
            raise SnapshotError(f"segments[{k}] is a {type(s).__name__}, expected a dict")
        if s.get("device", 0) == device:
            out.append((k, s))
    return out


def _active_blocks(snap, device):
    """(addr, requested, block size, frames) of each active block of the
    device's segments, in segment then address order; a block with a
    `history` (the older form) gives one entry per history record, whose
    real_size is what was requested (block size None then)."""
    blocks = []
    for k, seg in _segments_of(snap, device):
        where = f"segments[{k}]"
        addr = _int(seg, "address", where)
        for j, b in enumerate(_list(seg, "blocks", where, default=[])):
            bw = f"{where}.blocks[{j}]"
            if not isinstance(b, dict):
                raise SnapshotError(f"{bw} is a {type(b).__name__}, expected a dict")
            size = _int(b, "size", bw)
            baddr = b.get("address", addr)
            if b.get("state") not in ("active_allocated", "active_awaiting_free"):
                addr += size
                continue
            if "history" in b:
                for h, rec in enumerate(_list(b, "history", bw)):
                    hw = f"{bw}.history[{h}]"
                    real = _int(rec, "real_size", hw)
                    blocks.append((rec.get("addr", baddr), real, None, rec.get("frames", [])))
            else:
                req = b.get("requested_size", size)
                if isinstance(req, bool) or not isinstance(req, int) or req < 0:
                    raise SnapshotError(f"{bw}: 'requested_size' must be a non-negative integer")
                blocks.append((baddr, req, size, b.get("frames", [])))
            addr += size
    return blocks


def _reserved_segments(snap, device):
    return [(_int(s, "address", f"segments[{k}]"), _int(s, "total_size", f"segments[{k}]"))
            for k, s in _segments_of(snap, device)]


def convert_device_trace(snap, device, entries, w):
    """Replay one device's trace entries into w."""
    if not isinstance(entries, (list, tuple)):
        raise SnapshotError(f"device_traces[{device}] must be a list")
    for k, e in enumerate(entries):
        if not isinstance(e, dict) or not isinstance(e.get("action"), str):
            raise SnapshotError(f"device_traces[{device}][{k}]: an entry is a dict with an "
                                f"'action' string, got {e!r:.80}")
    # Pass 1: which blocks were live before the first entry.
    live = {}
    ever = set()  # addresses allocated in the trace so far
    before = {}  # addr -> (size, frames), allocated before the trace began
    order_before = []
    for k, e in enumerate(entries):
        a = e["action"]
        where = f"device_traces[{device}][{k}] ({a})"
        if a == "alloc":
            live[_int(e, "addr", where)] = True
            ever.add(e["addr"])
        elif a in ("free_requested", "free_completed"):
            addr = _int(e, "addr", where)
            if addr not in live and addr in ever:
                raise SnapshotError(f"{where}: 0x{addr:x} freed twice")
            if addr not in live and addr not in before:
                before[addr] = (_int(e, "size", where), e.get("frames", []))
                order_before.append(addr)
            if a == "free_completed":
                live.pop(addr, None)
    # Active blocks in the segments with no alloc in the trace: also older.
    seen_live = set(live)
    # Sizes are requested bytes throughout: alloc and free entries record
    # the request (orig_size, requested_size in CUDACachingAllocator.cpp),
    # not the rounded block, so a block from the segments counts its
    # requested_size too, or the end of the replay would not equal the
    # snapshot's own state.
    for addr, req, _, frames in _active_blocks(snap, device):
        if addr not in seen_live and addr not in before:
            before[addr] = (req, frames)
            order_before.append(addr)
    initial_segments = []
    # Segments freed or unmapped in the trace without being made there, and
    # segments in the snapshot never made in the trace, were reserved first.
    made = set()
    for k, e in enumerate(entries):
        a = e["action"]
        if a in ("segment_alloc", "segment_map"):
            made.add(_int(e, "addr", f"device_traces[{device}][{k}] ({a})"))
        elif a in ("segment_free", "segment_unmap"):
            addr = _int(e, "addr", f"device_traces[{device}][{k}] ({a})")
            if addr not in made:
                initial_segments.append((addr, _int(e, "size", f"device_traces[{device}][{k}]")))
    for addr, size in _reserved_segments(snap, device):
        if addr not in made and all(addr != s for s, _ in initial_segments):
            initial_segments.append((addr, size))

    has_time = all(isinstance(e.get("time_us"), (int, float)) and not isinstance(
        e.get("time_us"), bool) for e in entries) and entries
    t0 = min(e["time_us"] for e in entries) if has_time else 0

    def ts_of(k):
        return (entries[k]["time_us"] - t0) if has_time else k

    for addr, size in initial_segments:
        w.segment(0, addr, size, True, "before the trace")
    open_blocks = {}  # addr -> (id, name, size, free_requested ts or None)
    for addr in order_before:
        size, frames = before[addr]
        name, _ = frame_label(frames, addr)
        bid = w.alloc(0, name, "<before the trace>", size, {"addr": hex(addr)})
        open_blocks[addr] = [bid, name, size, None]
    for k, e in enumerate(entries):
        a = e["action"]
        where = f"device_traces[{device}][{k}] ({a})"
        ts = ts_of(k)
        if a == "alloc":
            addr, size = _int(e, "addr", where), _int(e, "size", where)
            if addr in open_blocks:
                raise SnapshotError(f"{where}: 0x{addr:x} allocated again before its "
                                    "free_completed")
            frames = e.get("frames", [])
            name, node = frame_label(frames, addr)
            bid = w.alloc(ts, name, node, size, {"addr": hex(addr), "stream": e.get("stream", 0)})
            open_blocks[addr] = [bid, name, size, None]
        elif a == "free_requested":
            addr = _int(e, "addr", where)
            if addr in open_blocks:
                open_blocks[addr][3] = ts
        elif a == "free_completed":
            addr = _int(e, "addr", where)
            blk = open_blocks.pop(addr, None)
            if blk is None:
                raise SnapshotError(f"{where}: 0x{addr:x} freed twice")
            bid, name, size, req_ts = blk
            extra = {"free_requested_ts": req_ts} if req_ts is not None else None
            w.free(ts, bid, name, size, frame_label(e.get("frames", []), addr)[1], extra)
        elif a in ("segment_alloc", "segment_map"):
            w.segment(ts, _int(e, "addr", where), _int(e, "size", where), True, a)
        elif a in ("segment_free", "segment_unmap"):
            w.segment(ts, _int(e, "addr", where), _int(e, "size", where), False, a)
        elif a == "oom":
            w.instant(ts, "oom", {"requested_bytes": _int(e, "size", where),
                                  "device_free": e.get("device_free", 0),
                                  "allocated": w.allocated})
        elif a == "snapshot":
            w.instant(ts, "snapshot", {"allocated": w.allocated})
        # annotate and anything newer: no memory changes hands.


def convert_segments(snap, device, w):
    for addr, size in _reserved_segments(snap, device):
        w.segment(0, addr, size, True, "segment")
    for k, (addr, req, block, frames) in enumerate(_active_blocks(snap, device)):
        name, node = frame_label(frames, addr)
        extra = {"addr": hex(addr)}
        if block is not None:
            extra["block_bytes"] = block
        w.alloc(k, name, node, req, extra)


def devices_of(snap):
    devs = set()
    traces = snap.get("device_traces")
    if traces is not None:
        if not isinstance(traces, (list, tuple)):
            raise SnapshotError("'device_traces' must be a list (one list per device)")
        devs.update(d for d, t in enumerate(traces) if t)
    for k, s in enumerate(_list(snap, "segments", "snapshot", default=[])):
        if not isinstance(s, dict):
            raise SnapshotError(f"segments[{k}] is a {type(s).__name__}, expected a dict")
        dev = s.get("device", 0)
        if isinstance(dev, bool) or not isinstance(dev, int) or dev < 0:
            raise SnapshotError(f"segments[{k}]: 'device' must be a non-negative integer")
        devs.add(dev)
    return sorted(devs)


def convert(snap, rank=None, label="measured"):
    """The trace (a dict) and per-device figures for the snapshot."""
    devs = devices_of(snap)
    if not devs:
        raise SnapshotError("the snapshot holds no segments and no trace entries: nothing "
                            "was allocated while it was recorded")
    if rank is not None and len(devs) != 1:
        raise SnapshotError(f"--rank names one device's pid, but the snapshot holds {len(devs)} "
                            f"devices ({devs})")
    traces = snap.get("device_traces") or []
    events, figures = [], []
    for dev in devs:
        pid = rank if rank is not None else dev
        w = TraceWriter(pid, f"rank {pid}: {label} (cuda:{dev})")
        if dev < len(traces) and traces[dev]:
            convert_device_trace(snap, dev, traces[dev], w)
        else:
            convert_segments(snap, dev, w)
        if w.next_id == 0:
            raise SnapshotError(f"device {dev}: no allocated block in the snapshot (memviz "
                                "needs at least one buffer)")
        events.extend(w.events)
        figures.append({"device": dev, "pid": pid, "peak_allocated": w.peak_allocated,
                        "end_allocated": w.allocated, "peak_reserved": w.peak_reserved,
                        "end_reserved": w.reserved, "buffers": w.next_id})
    return {"traceEvents": events, "displayTimeUnit": "ms"}, figures


def write_atomic(path, text):
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".tmp.", dir=folder)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("snapshot", help="pickle written by torch.cuda.memory._dump_snapshot()")
    ap.add_argument("-o", "--output", required=True, help="the Chrome trace to write (.json)")
    ap.add_argument("--rank", type=int, default=None,
                    help="pid to give the device (a one-device snapshot taken on rank R)")
    ap.add_argument("--label", default="measured", help="process name (default: measured)")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code not in (0, None) else 0
    if args.rank is not None and not 0 <= args.rank < 4096:
        print(f"error: --rank expects 0..4095, got {args.rank}", file=sys.stderr)
        return 2
    try:
        with open(args.snapshot, "rb") as f:
            data = f.read()
    except OSError as e:
        print(f"{args.snapshot}: error: {e.strerror}", file=sys.stderr)
        return 2
    try:
        trace, figures = convert(load_snapshot(data), args.rank, args.label)
    except SnapshotError as e:
        print(f"{args.snapshot}: error: {e}", file=sys.stderr)
        return 2
    except RecursionError:
        print(f"{args.snapshot}: error: nested too deeply to be a snapshot", file=sys.stderr)
        return 2
    try:
        write_atomic(args.output, json.dumps(trace, separators=(",", ":")) + "\n")
    except OSError as e:
        print(f"{args.output}: error: {e.strerror}", file=sys.stderr)
        return 1
    for fig in figures:
        print(f"rank {fig['pid']} (cuda:{fig['device']}): {fig['buffers']} blocks, peak allocated "
              f"{fig['peak_allocated']} bytes, peak reserved {fig['peak_reserved']} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
