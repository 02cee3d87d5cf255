"""tools/torch_snapshot_to_trace.py: snapshots written by hand (Debian's
python3-torch cannot record one), every action kind, the older segments
form, a case whose numbers are computed by hand and checked through
`shardflow memviz --summary --json`, and bad input (exit 2, nothing written).
Run by CTest as `memviz_torch_snapshot`."""

import collections
import json
import os
import pickle
import subprocess
import sys
import tempfile
import unittest

SRC = os.environ.get("SF_SOURCE_DIR",
                     os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
TOOL = os.path.join(SRC, "tools", "torch_snapshot_to_trace.py")
SHARDFLOW = os.environ.get("SF_SHARDFLOW", os.path.join(SRC, "build", "shardflow"))


def frames(name, line):
    return [{"filename": "/work/train/model.py", "line": line, "name": name},
            {"filename": "/usr/lib/python3/torch/nn/module.py", "line": 1, "name": "_call_impl"}]


def entry(action, addr=0, size=0, **kw):
    e = {"action": action, "addr": addr, "size": size, "stream": 0, "frames": []}
    e.update(kw)
    return e


MiB = 1 << 20


class Converter(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def run_tool(self, snap_bytes, *extra):
        src = os.path.join(self.dir, "snap.pickle")
        out = os.path.join(self.dir, "measured.json")
        with open(src, "wb") as f:
            f.write(snap_bytes)
        p = subprocess.run([sys.executable, TOOL, src, "-o", out, *extra],
                           capture_output=True, text=True)
        trace = None
        if os.path.exists(out):
            with open(out) as f:
                trace = json.load(f)
        return p, trace, out

    def convert(self, snap, *extra):
        p, trace, out = self.run_tool(pickle.dumps(snap), *extra)
        self.assertEqual(p.returncode, 0, p.stderr)
        return trace, out

    @staticmethod
    def counter(trace, name, pid=0):
        return [e["args"]["bytes"] for e in trace["traceEvents"]
                if e["ph"] == "C" and e["name"] == name and e["pid"] == pid]

    @staticmethod
    def buffers(trace, ph):
        return [e for e in trace["traceEvents"] if e["ph"] == ph and e.get("cat") == "buffer"]

    def memviz_summary(self, path):
        p = subprocess.run([SHARDFLOW, "memviz", "--summary", path, "--json"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def no_leftovers(self):
        self.assertEqual([n for n in os.listdir(self.dir) if n != "snap.pickle"], [])

    # ---- the device_traces form -----------------------------------------------------

    def test_every_action_kind(self):
        snap = {"segments": [], "device_traces": [[
            entry("segment_alloc", 0x10000000, 2 * MiB),
            entry("alloc", 0x10000000, 512, frames=frames("embed", 10)),
            entry("alloc", 0x10000200, 1024, frames=frames("lm_head", 20)),
            entry("free_requested", 0x10000000, 512),
            entry("free_completed", 0x10000000, 512),
            entry("snapshot"),
            entry("segment_map", 0x20000000, 4 * MiB),
            entry("oom", size=1 << 40, device_free=7),
            entry("segment_unmap", 0x20000000, 4 * MiB),
            entry("free_requested", 0x10000200, 1024),
            entry("free_completed", 0x10000200, 1024),
            entry("segment_free", 0x10000000, 2 * MiB),
            entry("annotate", 0x10000200, 0, user_metadata="skipped"),
        ]]}
        trace, _ = self.convert(snap)
        self.assertEqual(self.counter(trace, "allocated"), [512, 1536, 1024, 0])
        self.assertEqual(self.counter(trace, "reserved"),
                         [2 * MiB, 6 * MiB, 2 * MiB, 0])
        b = self.buffers(trace, "b")
        self.assertEqual([x["args"]["tensor"] for x in b],
                         ["embed model.py:10", "lm_head model.py:20"])
        self.assertEqual([x["args"]["alloc_node"] for x in b], ["embed", "lm_head"])
        self.assertEqual(len(self.buffers(trace, "e")), 2)
        # free_requested is remembered on the buffer; free_completed ends it.
        self.assertEqual(self.buffers(trace, "e")[0]["args"]["free_requested_ts"], 3)
        self.assertEqual(self.buffers(trace, "e")[0]["ts"], 4)
        inst = {e["name"]: e for e in trace["traceEvents"] if e["ph"] == "i"}
        self.assertEqual(inst["oom"]["args"]["requested_bytes"], 1 << 40)
        self.assertEqual(inst["oom"]["args"]["device_free"], 7)
        self.assertEqual(inst["snapshot"]["args"]["allocated"], 1024)
        segs = [e for e in trace["traceEvents"] if e.get("cat") == "segment"]
        self.assertEqual([e["ph"] for e in segs], ["b", "b", "e", "e"])

    def test_numbers_by_hand_through_memviz(self):
        # allocs A 1 MiB, B 3 MiB; A freed; C 2 MiB: live 1, 4, 3, 5 MiB.
        # The peak is 5 MiB (5242880), first reached by C's alloc at event 3
        # (events: A, B, free A, C), B and C live then; 2 never freed.
        snap = {"segments": [], "device_traces": [[
            entry("segment_alloc", 0x0, 8 * MiB),
            entry("alloc", 0x0, 1 * MiB, frames=frames("a_fn", 1), time_us=1000),
            entry("alloc", 0x100000, 3 * MiB, frames=frames("b_fn", 2), time_us=1010),
            entry("free_requested", 0x0, 1 * MiB, time_us=1020),
            entry("free_completed", 0x0, 1 * MiB, time_us=1021),
            entry("alloc", 0x400000, 2 * MiB, frames=frames("c_fn", 3), time_us=1030),
        ]]}
        snap["device_traces"][0][0]["time_us"] = 1000
        trace, out = self.convert(snap)
        s = self.memviz_summary(out)
        r = s["ranks"][0]
        self.assertEqual(r["peak_bytes"], 5 * MiB)
        self.assertEqual(r["peak_node"], "c_fn")
        self.assertEqual(r["peak_event"], 3)
        self.assertEqual(r["end_bytes"], 5 * MiB)
        self.assertEqual(r["never_freed"], 2)
        # time_us is kept, relative to the first entry.
        self.assertEqual([x["ts"] for x in self.buffers(trace, "b")], [0, 10, 30])

    def test_blocks_from_before_the_trace_start_at_event_0(self):
        # D (256 B) is freed in the trace but was never allocated there; E is
        # active in the segments without an alloc: both were live first. E
        # counts its requested 4000 bytes, not its 4096-byte block: trace
        # entries carry requested sizes, so the two must not be mixed.
        snap = {"segments": [{"device": 0, "address": 0x9000, "total_size": 2 * MiB, "stream": 0,
                              "blocks": [{"address": 0x9000, "size": 4096, "requested_size": 4000,
                                          "state": "active_allocated",
                                          "frames": frames("e_fn", 5)}]}],
                "device_traces": [[
                    entry("free_completed", 0x5000, 256),
                    entry("alloc", 0x7000, 512, frames=frames("f_fn", 6)),
                ]]}
        trace, _ = self.convert(snap)
        b = self.buffers(trace, "b")
        self.assertEqual([(x["ts"], x["args"]["bytes"]) for x in b],
                         [(0, 256), (0, 4000), (1, 512)])
        self.assertEqual(self.counter(trace, "allocated"), [256, 4256, 4000, 4512])
        self.assertEqual(self.counter(trace, "reserved"), [2 * MiB])

    def test_free_requested_alone_stays_live(self):
        snap = {"device_traces": [[entry("alloc", 0x0, 512), entry("free_requested", 0x0, 512)]]}
        trace, _ = self.convert(snap)
        self.assertEqual(len(self.buffers(trace, "e")), 0)
        self.assertEqual(self.counter(trace, "allocated"), [512])

    def test_two_devices_are_two_ranks(self):
        snap = {"device_traces": [[entry("alloc", 0x0, 512)], [entry("alloc", 0x0, 1024)]]}
        trace, _ = self.convert(snap)
        self.assertEqual(self.counter(trace, "allocated", pid=0), [512])
        self.assertEqual(self.counter(trace, "allocated", pid=1), [1024])

    def test_rank_sets_the_pid(self):
        snap = {"device_traces": [[entry("alloc", 0x0, 512)]]}
        trace, _ = self.convert(snap, "--rank", "3")
        self.assertEqual(self.counter(trace, "allocated", pid=3), [512])

    # ---- what real snapshots hold (found converting ones recorded on GPUs) --------

    def test_sizes_are_requested_bytes_in_both_forms(self):
        # CUDACachingAllocator records an alloc with its requested size (not
        # the rounded block) and a block in `segments` with both. Live at the
        # snapshot: G (requested 1000 in a 1024 block) from before the trace
        # and H (3000 in 3072) from the trace; I was allocated and freed.
        # End allocated = 1000 + 3000 = 4000 in the trace form, and the same
        # from the segments alone.
        seg = {"device": 0, "address": 0x0, "total_size": 2 * MiB, "stream": 0, "blocks": [
            {"address": 0x0, "size": 1024, "requested_size": 1000,
             "state": "active_allocated", "frames": []},
            {"address": 0x400, "size": 3072, "requested_size": 3000,
             "state": "active_allocated", "frames": frames("h_fn", 8)},
            {"address": 0x1000, "size": 2 * MiB - 0x1000, "state": "inactive", "frames": []}]}
        snap = {"segments": [seg], "device_traces": [[
            entry("alloc", 0x1000, 700, frames=frames("i_fn", 7)),
            entry("alloc", 0x400, 3000, frames=frames("h_fn", 8)),
            entry("free_requested", 0x1000, 700),
            entry("free_completed", 0x1000, 700)]]}
        trace, _ = self.convert(snap)
        self.assertEqual(self.counter(trace, "allocated"), [1000, 1700, 4700, 4000])
        trace, _ = self.convert({"segments": [seg]})
        self.assertEqual(self.counter(trace, "allocated"), [1000, 4000])

    def test_names_skip_the_allocator_and_capture_frames(self):
        # stacks="all" (the default of current PyTorch) puts C++ frames first:
        # the unwinder, the allocator, then ATen. The buffer is named by the
        # innermost Python frame; with none (autograd's backward thread), by
        # the ATen op and the autograd node; Windows paths lose their folder.
        cpp = [{"name": "torch::unwind::unwind()", "filename": "??", "line": 0},
               {"name": "torch::CapturedTraceback::gather(bool, bool, bool)",
                "filename": "??", "line": 0},
               {"name": "c10::cuda::CUDACachingAllocator::Native::DeviceCachingAllocator::"
                        "malloc(int, unsigned long, CUstream_st*)",
                "filename": "CUDACachingAllocator.cpp", "line": 0},
               {"name": "at::_ops::mm::call(at::Tensor const&, at::Tensor const&)",
                "filename": "??", "line": 0}]
        backward = cpp + [{"name": "torch::autograd::generated::MmBackward0::apply("
                                   "std::vector<at::Tensor>&&)", "filename": "??", "line": 0}]
        forward = cpp + [{"name": "forward", "line": 101,
                          "filename": "D:\\Dev\\a2\\cs336_basics\\model.py"}]
        other = cpp[:3] + [{"name": "at::native::empty_cuda(c10::ArrayRef<long>)",
                            "filename": "Empty.cpp", "line": 12}]
        snap = {"device_traces": [[entry("alloc", 0x0, 512, frames=backward),
                                   entry("alloc", 0x200, 512, frames=forward),
                                   entry("alloc", 0x400, 512, frames=other),
                                   entry("alloc", 0x600, 512, frames=cpp[:2])]]}
        trace, _ = self.convert(snap)
        b = self.buffers(trace, "b")
        self.assertEqual([(x["args"]["tensor"], x["args"]["alloc_node"]) for x in b],
                         [("aten::mm (MmBackward0)", "aten::mm"),
                          ("forward model.py:101", "forward"),
                          ("at::native::empty_cuda Empty.cpp:12", "at::native::empty_cuda"),
                          ("block 0x600", "<no frames>")])

    # ---- the segments form ----------------------------------------------------------

    def test_segments_with_history(self):
        # The older form: a block's `history` lists what was allocated in it
        # (real_size each); the inactive block counts nothing.
        snap = {"segments": [{"address": 0x0, "total_size": 2 * MiB, "stream": 0, "blocks": [
            {"size": 1536, "state": "active_allocated", "history": [
                {"addr": 0x0, "real_size": 1000, "frames": frames("x_fn", 1)},
                {"addr": 0x400, "real_size": 500, "frames": frames("y_fn", 2)}]},
            {"size": 2 * MiB - 1536, "state": "inactive"}]}]}
        trace, out = self.convert(snap)
        self.assertEqual([x["args"]["bytes"] for x in self.buffers(trace, "b")], [1000, 500])
        self.assertEqual(self.counter(trace, "reserved"), [2 * MiB])
        self.assertEqual(self.memviz_summary(out)["ranks"][0]["peak_bytes"], 1500)

    def test_segments_with_frames(self):
        snap = {"segments": [{"device": 1, "address": 0x0, "total_size": 2 * MiB, "stream": 0,
                              "blocks": [{"address": 0x0, "size": 1024, "requested_size": 1000,
                                          "state": "active_allocated",
                                          "frames": frames("w_fn", 9)}]}],
                "device_traces": [[], []]}
        trace, _ = self.convert(snap)
        b = self.buffers(trace, "b")
        self.assertEqual(b[0]["pid"], 1)
        self.assertEqual(b[0]["args"]["bytes"], 1000)
        self.assertEqual(b[0]["args"]["requested_bytes"], 1000)
        self.assertEqual(b[0]["args"]["block_bytes"], 1024)
        self.assertEqual(b[0]["args"]["tensor"], "w_fn model.py:9")

    # ---- with a plan, in memviz -----------------------------------------------------

    def test_memviz_compares_plan_and_measured(self):
        plan = os.path.join(self.dir, "plan.json")
        p = subprocess.run([SHARDFLOW, "plan", os.path.join(SRC, "tests/graphs/chain.yaml"),
                            "--trace", plan], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        trace, out = self.convert({"device_traces": [[entry("alloc", 0x0, 4096)]]})
        svg = os.path.join(self.dir, "cmp.svg")
        p = subprocess.run([SHARDFLOW, "memviz", plan, out, "-o", svg],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(svg) as f:
            text = f.read()
        # Plan peak 2048 (chain), measured 4096: twice as much.
        self.assertIn("rank 0: peak 2 KiB → 4 KiB (+100.0%)", text)
        # The same in text and JSON, without a picture.
        p = subprocess.run([SHARDFLOW, "memviz", "--summary", plan, out, "--json"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        r = json.loads(p.stdout)["ranks"][0]
        self.assertEqual(r["peak_bytes"], [2048, 4096])
        self.assertEqual(r["peak_node"], ["make_b", "<no frames>"])
        self.assertEqual(r["difference_bytes"], 2048)
        p = subprocess.run([SHARDFLOW, "memviz", "--summary", plan, out],
                           capture_output=True, text=True)
        self.assertIn("rank 0: 2048 bytes (2.00 KiB) at 'make_b' vs 4096 bytes (4.00 KiB) at "
                      "'<no frames>': +2048 bytes (+2.00 KiB, +100.0%)", p.stdout)
        p = subprocess.run([SHARDFLOW, "memviz", "--summary", plan, out, plan],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--summary takes one trace or two", p.stderr)

    # ---- bad input ------------------------------------------------------------------

    def test_refuses_classes_and_runs_nothing(self):
        marker = os.path.join(self.dir, "ran")

        class Evil:
            def __reduce__(self):
                return (os.system, (f"touch {marker}",))

        for data in (pickle.dumps(Evil()), pickle.dumps(collections.OrderedDict(a=1))):
            p, trace, out = self.run_tool(data)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("refusing to load classes", p.stderr)
            self.assertFalse(os.path.exists(marker))
            self.assertIsNone(trace)
            self.no_leftovers()

    def test_bad_snapshots_exit_2_and_write_nothing(self):
        good = pickle.dumps({"device_traces": [[entry("alloc", 0, 512)]]})
        cases = {
            "not a pickle": b"hello",
            "truncated": good[: len(good) // 2],
            "a list": pickle.dumps([1, 2]),
            "no keys": pickle.dumps({"x": 1}),
            "nothing allocated": pickle.dumps({"segments": [], "device_traces": [[]]}),
            "alloc without size": pickle.dumps({"device_traces": [[{"action": "alloc",
                                                                     "addr": 0}]]}),
            "negative size": pickle.dumps({"device_traces": [[entry("alloc", 0, -1)]]}),
            "freed twice": pickle.dumps({"device_traces": [[
                entry("alloc", 0, 512), entry("free_completed", 0, 512),
                entry("free_completed", 0, 512)]]}),
            "allocated twice": pickle.dumps({"device_traces": [[
                entry("alloc", 0, 512), entry("alloc", 0, 512)]]}),
            "entry not a dict": pickle.dumps({"device_traces": [[3]]}),
            "segment freed below zero": pickle.dumps({"device_traces": [[
                entry("alloc", 0, 512), entry("segment_alloc", 0, 10),
                entry("segment_free", 0, 20)]]}),
            "segments not a list": pickle.dumps({"segments": 5}),
        }
        for why, data in cases.items():
            with self.subTest(why):
                p, trace, _ = self.run_tool(data)
                self.assertEqual(p.returncode, 2, f"{why}: {p.stderr}")
                self.assertIn("error:", p.stderr)
                if why == "freed twice":
                    self.assertIn("freed twice", p.stderr)
                if why == "allocated twice":
                    self.assertIn("allocated again before its free_completed", p.stderr)
                self.assertIsNone(trace)
                self.no_leftovers()
        p, trace, _ = self.run_tool(pickle.dumps({"device_traces": [[entry("alloc", 0, 1)],
                                                                    [entry("alloc", 0, 1)]]}),
                                    "--rank", "0")
        self.assertEqual(p.returncode, 2)
        self.assertIn("2 devices", p.stderr)
        self.assertIsNone(trace)


if __name__ == "__main__":
    unittest.main()
