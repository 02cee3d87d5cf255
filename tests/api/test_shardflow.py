"""The Python package (python/shardflow) over libshardflow: plans equal the
command's to the byte, runs from memory give hand-computed values, steps
keep weights, and every bad input raises ShardflowError with its code,
position and the command's exit status. CTest runs it (python_shardflow)
with PYTHONPATH and SHARDFLOW_LIB set."""

import json
import os
import subprocess
import unittest

import shardflow

SRC = os.environ.get("SF_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
SHARDFLOW = os.environ.get("SF_SHARDFLOW", os.path.join(SRC, "build", "shardflow"))

try:
    import numpy
except ImportError:
    numpy = None


def src(rel):
    return os.path.join(SRC, rel)


def values(out):
    """Flat Python numbers of an output, numpy or not."""
    return [float(v) for v in (out.ravel().tolist() if numpy is not None else out.tolist())]


class PlanTest(unittest.TestCase):
    def test_plan_chain_exact(self):
        # chain.yaml with n=512: a -> b -> c, 2 KiB each. Live {a,b} at make_b
        # is the peak (4096), c alone at the end (2048), 3 allocations.
        p = shardflow.plan(src("tests/graphs/chain.yaml"), sets={"n": 512})
        self.assertEqual(p["graph"], "chain")
        self.assertEqual(p["ranks"], [{"rank": 0, "peak_bytes": 4096, "peak_node": "make_b",
                                       "end_bytes": 2048, "allocs": 3}])

    @unittest.skipUnless(os.access(SHARDFLOW, os.X_OK), "no shardflow command built")
    def test_plan_equals_command_every_rank(self):
        sets = {"model": "synthetic:tiny", "redistribution": "all_to_all"}
        p = shardflow.plan(src("graphs/eagle3_target.yaml"), world=2, sets=sets)
        cmd = [SHARDFLOW, "plan", src("graphs/eagle3_target.yaml"), "--world", "2", "--json"]
        for k, v in sets.items():
            cmd += ["--set", "%s=%s" % (k, v)]
        want = json.loads(subprocess.run(cmd, check=True, capture_output=True).stdout)
        self.assertEqual(len(p["ranks"]), 2)
        for mine, theirs in zip(p["ranks"], want["ranks"]):
            for key in ("rank", "peak_bytes", "peak_node", "end_bytes", "allocs"):
                self.assertEqual(mine[key], theirs[key], key)
        one = shardflow.plan(src("graphs/eagle3_target.yaml"), world=2, rank=1, sets=sets)
        self.assertEqual(one["ranks"], [p["ranks"][1]])

    def test_plan_steps_two_holds_weights(self):
        # steps.yaml: step 0 peaks at 9216, step 1 at 10240 (see its header).
        g = shardflow.Graph(src("tests/graphs/steps.yaml"))
        self.assertEqual(g.plan()["peak_bytes"], 9216)
        self.assertEqual(g.plan(steps=3)["peak_bytes"], 10240)
        g.close()

    def test_bad_graph_has_position(self):
        with self.assertRaises(shardflow.ShardflowError) as cm:
            shardflow.plan(src("tests/data/bad/unknown_op.yaml"))
        e = cm.exception
        self.assertEqual((e.code, e.line, e.column, e.exit_status), ("graph", 4, 9, 2))
        self.assertTrue(e.file.endswith("unknown_op.yaml"))
        self.assertIn("unknown op 'no_such_op'", e.message)

    def test_bad_arguments(self):
        cases = [
            (lambda: shardflow.plan(src("tests/graphs/chain.yaml"), sets={"nope": 1}), "nope"),
            (lambda: shardflow.plan(src("tests/graphs/no_such.yaml")), "no_such.yaml"),
            (lambda: shardflow.plan(src("tests/graphs/chain.yaml"), world=2, rank=2), "rank 2"),
            (lambda: shardflow.plan(src("tests/graphs/chain.yaml"), free="never"), "never"),
            (lambda: shardflow.plan(src("tests/graphs/chain.yaml"), steps=0), "steps"),
        ]
        for call, fragment in cases:
            with self.assertRaises(shardflow.ShardflowError) as cm:
                call()
            self.assertEqual(cm.exception.exit_status, 2, cm.exception.message)
            self.assertIn(fragment, cm.exception.message)


class RunTest(unittest.TestCase):
    def test_run_from_lists(self):
        # y = x*x + x for x = [[1,2,3],[-1,0,0.5]] -> [[2,6,12],[0,0,0.75]].
        x = ([1, 2, 3, -1, 0, 0.5], (2, 3))
        out = shardflow.run(src("tests/graphs/inputs_io.yaml"), inputs={"x": x})
        self.assertEqual(list(out), ["y"])
        self.assertEqual(tuple(out["y"].shape), (2, 3))
        self.assertEqual(values(out["y"]), [2, 6, 12, 0, 0, 0.75])

    def test_run_without_numpy_gives_tensors(self):
        # The path a machine without numpy takes, whether or not this one has it.
        saved = shardflow._np
        shardflow._np = None
        try:
            out = shardflow.run(src("tests/graphs/inputs_io.yaml"),
                                inputs={"x": ([1, 2, 3, -1, 0, 0.5], (2, 3))})["y"]
            self.assertIsInstance(out, shardflow.Tensor)
            self.assertEqual((out.dtype, out.shape, len(out.data)), ("f32", (2, 3), 24))
            self.assertEqual(out.tolist(), [2, 6, 12, 0, 0, 0.75])
        finally:
            shardflow._np = saved

    def test_run_bf16_both_ways(self):
        # 1.5, -2, 0.25 and 3 and their squares are exact in bf16; 1/3 rounds
        # to 0.333984375 (bits 0x3EAB); its square 0.11154556... is 228.44 steps
        # of 2^-11 (bf16 near 0.1) and rounds to 228 * 2^-11 = 0.111328125.
        x = ([1.5, -2, 0.25, 3, 1 / 3], (5,))
        path = src("tests/graphs/bf16_io.yaml")
        want = [2.25, 4, 0.0625, 9, 0.111328125]
        saved = shardflow._np
        try:
            for np_module in {saved, None}:
                shardflow._np = np_module
                y = shardflow.run(path, sets={"n": 5}, inputs={"x": x})["y"]
                self.assertEqual(values(y) if np_module is not None else y.tolist(), want)
        finally:
            shardflow._np = saved

    def test_run_numpy_in_and_out(self):
        if numpy is None:
            self.skipTest("numpy is not installed: lists and bytes are tested instead")
        x = numpy.array([[1, 2, 3], [-1, 0, 0.5]], dtype=numpy.float32)
        y = shardflow.run(src("tests/graphs/inputs_io.yaml"), inputs={"x": x})["y"]
        self.assertIsInstance(y, numpy.ndarray)
        self.assertEqual(y.dtype, numpy.float32)
        numpy.testing.assert_array_equal(y, x * x + x)
        with self.assertRaises(shardflow.ShardflowError) as cm:
            shardflow.run(src("tests/graphs/inputs_io.yaml"), inputs={"x": x.astype(numpy.float64)})
        self.assertIn("float64", cm.exception.message)

    def test_steps_keep_weights_and_match_fresh_runs(self):
        # Step 1 allocates x, t, h, w, y; later steps not w. Each step's y
        # equals a fresh run's for the same x.
        path = src("tests/graphs/steps.yaml")
        with shardflow.Graph(path) as g, shardflow.Run(g) as r:
            for k in range(3):
                x = ([((i * 7 + k * 13) % 11) * 0.25 - 1.0 for i in range(16 * 64)], (16, 64))
                r.set_input("x", x)
                st = r.step()
                self.assertEqual((st["allocs"], st["peak_bytes"]),
                                 (5, 9216) if k == 0 else (4, 10240))
                fresh = shardflow.run(path, inputs={"x": x})["y"]
                self.assertEqual(values(r.output("y")), values(fresh))

    def test_bad_inputs(self):
        path = src("tests/graphs/inputs_io.yaml")
        cases = [
            ({"x": ([1, 2, 3], (3,))}, "has shape [3], expected [2,3]"),
            ({"x": (b"\0" * 7, (2, 3), "f32")}, "7 bytes given"),
            ({"x": ([1] * 6, (2, 3), "f99")}, "f99"),
            ({"z": ([1] * 6, (2, 3), "f32")}, "'z' is not an input"),
            ({}, "graph input 'x' was not given"),
        ]
        for inputs, fragment in cases:
            with self.assertRaises(shardflow.ShardflowError) as cm:
                shardflow.run(path, inputs=inputs)
            self.assertEqual(cm.exception.exit_status, 2, cm.exception.message)
            self.assertIn(fragment, cm.exception.message)

    def test_output_before_step_and_world_two(self):
        with shardflow.Graph(src("tests/graphs/chain.yaml")) as g, shardflow.Run(g) as r:
            with self.assertRaises(shardflow.ShardflowError) as cm:
                r.output("c")
            self.assertIn("no outputs to read", cm.exception.message)
            r.step()
            self.assertEqual(values(r.output("c"))[:2], [5.0625, 5.0625])  # (1.5^2)^2
        with shardflow.Graph(src("graphs/eagle3_target.yaml"), rank=0, world=2) as g:
            with self.assertRaises(shardflow.ShardflowError) as cm:
                shardflow.Run(g)
            self.assertEqual(cm.exception.code, "unsupported")
            self.assertIn("--nproc 2", cm.exception.message)


if __name__ == "__main__":
    unittest.main()
