"""shardflow from Python: plan a graph (each rank's peak memory, exact to
the byte) and run it on the cpu with inputs from memory, through
libshardflow and ctypes (no compile step, no third-party dependency).

    import shardflow
    shardflow.plan("graphs/eagle3_target.yaml", world=8,
                   sets={"model": "synthetic:qwen3-8b", "batch": 8, "seq": 4096})
    out = shardflow.run("tests/graphs/inputs_io.yaml", inputs={"x": x})

Outputs are numpy arrays when numpy is installed (bf16 comes back as
float32, numpy having no bfloat16), Tensor objects (dtype, shape, bytes,
tolist()) otherwise. Errors raise ShardflowError.
"""

import array
import ctypes
import struct

from . import _native
from ._native import ShardflowError

try:
    import numpy as _np
except ImportError:  # numpy is optional
    _np = None

__all__ = ["ShardflowError", "Graph", "Run", "Tensor", "plan", "run", "version"]

# dtype name -> (struct format of one element, numpy dtype name or None)
_DTYPES = {
    "f32": ("f", "float32"),
    "f16": ("e", "float16"),
    "bf16": ("H", None),
    "i32": ("i", "int32"),
    "i64": ("q", "int64"),
    "u8": ("B", "uint8"),
}


def version():
    return _native.lib.shardflow_version().decode()


def _sets(sets):
    """{key: value} -> a ctypes array of Set; values are written as YAML
    scalars (True -> true, lists -> [1, 2])."""
    items = []
    for k, v in (sets or {}).items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        elif isinstance(v, (list, tuple)):
            v = "[" + ", ".join(str(x) for x in v) + "]"
        items.append((str(k).encode(), str(v).encode()))
    arr = (_native.Set * max(len(items), 1))()
    for i, (k, v) in enumerate(items):
        arr[i].key = k
        arr[i].value = v
    return arr, len(items)


def _info_dict(info):
    return {"dtype": info.dtype.decode(), "shape": tuple(info.shape[: info.ndim]),
            "nbytes": info.nbytes}


class _Handle:
    """A C object freed by close(), at the end of a with block, or when
    collected; subclasses name the free function."""

    _free = None

    def close(self):
        if self._h:
            type(self)._free(self._h)
            self._h = ctypes.c_void_p()

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Graph(_Handle):
    """A loaded, validated graph for rank `rank` of `world`."""

    _free = _native.lib.shardflow_graph_free

    def __init__(self, path, sets=None, rank=0, world=1):
        self._h = ctypes.c_void_p()  # set first: __del__ runs even if loading fails
        arr, n = _sets(sets)
        handle = ctypes.c_void_p()
        _native.check(_native.lib.shardflow_graph_load, str(path).encode(), arr, n, rank, world,
                      ctypes.byref(handle))
        self._h = handle
        self.rank = rank
        self.world = world

    @property
    def name(self):
        return _native.lib.shardflow_graph_name(self._h).decode()

    @property
    def inputs(self):
        n = _native.lib.shardflow_graph_n_inputs(self._h)
        return [_native.lib.shardflow_graph_input_name(self._h, i).decode() for i in range(n)]

    @property
    def outputs(self):
        n = _native.lib.shardflow_graph_n_outputs(self._h)
        return [_native.lib.shardflow_graph_output_name(self._h, i).decode() for i in range(n)]

    def tensor(self, name):
        """{"dtype", "shape", "nbytes"} of an input or output."""
        info = _native.TensorInfo()
        _native.check(_native.lib.shardflow_graph_tensor, self._h, name.encode(),
                      ctypes.byref(info))
        return _info_dict(info)

    def plan(self, free="eager", steps=1):
        """This rank's plan on the meta device: rank, peak_bytes, peak_node,
        end_bytes, allocs (with steps > 1: the second step's, step 1 counting
        from 0, which later steps repeat)."""
        st = _native.Stats()
        _native.check(_native.lib.shardflow_plan, self._h, free.encode(), steps, ctypes.byref(st))
        d = st.as_dict()
        del d["wall_s"]
        return d


def plan(graph, world=1, rank=None, sets=None, free="eager", steps=1):
    """Plan every rank of `world` (or only `rank`): the dict `shardflow plan
    --json` prints, {"graph", "world", "device", "free", "ranks": [{"rank",
    "peak_bytes", "peak_node", "end_bytes", "allocs"}, ...]}."""
    ranks = range(world) if rank is None else [rank]
    out = {"graph": None, "world": world, "device": "meta", "free": free, "ranks": []}
    for r in ranks:
        with Graph(graph, sets=sets, rank=r, world=world) as g:
            out["graph"] = g.name
            out["ranks"].append(g.plan(free=free, steps=steps))
    return out


class Tensor:
    """An output without numpy: dtype, shape and the C-contiguous bytes."""

    def __init__(self, dtype, shape, data):
        self.dtype = dtype
        self.shape = tuple(shape)
        self.data = bytes(data)

    def tolist(self):
        """The elements, flat, as Python numbers (bf16 widened to float)."""
        fmt = _DTYPES[self.dtype][0]
        vals = list(array.array(fmt, self.data)) if fmt != "e" else [
            v[0] for v in struct.iter_unpack("<e", self.data)]
        if self.dtype == "bf16":
            vals = [struct.unpack("<f", struct.pack("<I", v << 16))[0] for v in vals]
        return vals

    def __repr__(self):
        return "Tensor(dtype=%r, shape=%r, %d bytes)" % (self.dtype, self.shape, len(self.data))


def _f32_to_bf16(x):
    """Round a float to the nearest bf16 (ties to even), as uint16 bits."""
    (bits,) = struct.unpack("<I", struct.pack("<f", x))
    if (bits & 0x7F800000) == 0x7F800000 and bits & 0x7FFFFF:
        return (bits >> 16) | 0x40  # NaN stays NaN
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) & 0xFFFF


def _as_input(name, value, want):
    """(dtype, shape, bytes) of an input value: a numpy array, a Tensor, or
    a (data, shape[, dtype]) tuple whose data is bytes or a flat list."""
    if _np is not None and isinstance(value, _np.ndarray):
        kind = {_np.dtype(v[1]): k for k, v in _DTYPES.items() if v[1]}
        dt = kind.get(value.dtype)
        if dt is None:
            raise ShardflowError("input", "input '%s': numpy dtype %s is not one of %s" % (
                name, value.dtype, ", ".join(str(k) for k in kind)), exit_status=2)
        arr = _np.ascontiguousarray(value)
        return dt, arr.shape, arr.tobytes()
    if isinstance(value, Tensor):
        return value.dtype, value.shape, value.data
    if not isinstance(value, tuple) or len(value) not in (2, 3):
        raise ShardflowError("input", "input '%s': give a numpy array, a Tensor or a "
                             "(data, shape[, dtype]) tuple" % name, exit_status=2)
    data, shape = value[0], tuple(value[1])
    dt = value[2] if len(value) == 3 else want["dtype"]
    if isinstance(data, (bytes, bytearray, memoryview)):
        return dt, shape, bytes(data)
    if dt not in _DTYPES:
        raise ShardflowError("input", "input '%s': unknown dtype '%s'" % (name, dt),
                             exit_status=2)
    fmt = _DTYPES[dt][0]
    if dt == "bf16":
        data = [_f32_to_bf16(float(v)) for v in data]
    if fmt == "e":
        return dt, shape, b"".join(struct.pack("<e", float(v)) for v in data)
    return dt, shape, array.array(fmt, data).tobytes()


def _output(info, raw):
    dt, shape = info.dtype.decode(), tuple(info.shape[: info.ndim])
    if _np is None:
        return Tensor(dt, shape, raw)
    if dt == "bf16":
        bits = _np.frombuffer(raw, dtype=_np.uint16).astype(_np.uint32) << 16
        return bits.view(_np.float32).reshape(shape)
    return _np.frombuffer(raw, dtype=_DTYPES[dt][1]).reshape(shape).copy()


class Run(_Handle):
    """An executor on the cpu for one graph (world 1), kept across steps:
    weights are made in the first step and kept."""

    _free = _native.lib.shardflow_run_free

    def __init__(self, graph, free="eager"):
        self._h = ctypes.c_void_p()  # set first: __del__ runs even if creation fails
        self.graph = graph  # keeps it alive: the executor borrows it
        handle = ctypes.c_void_p()
        _native.check(_native.lib.shardflow_run_new, graph._h, free.encode(), ctypes.byref(handle))
        self._h = handle
        self._held = {}  # input bytes the executor borrows

    def set_input(self, name, value):
        want = self.graph.tensor(name) if name in self.graph.inputs else {"dtype": None}
        dt, shape, data = _as_input(name, value, want)
        buf = ctypes.create_string_buffer(data, max(len(data), 1))
        dims = (ctypes.c_int64 * _native.MAX_DIMS)(*shape[: _native.MAX_DIMS])
        _native.check(_native.lib.shardflow_run_set_input, self._h, name.encode(),
                      str(dt).encode(), len(shape), dims, buf, len(data))
        self._held[name] = buf

    def step(self):
        """Run every node once; returns this step's figures (rank,
        peak_bytes, peak_node, end_bytes, allocs, wall_s)."""
        st = _native.Stats()
        _native.check(_native.lib.shardflow_run_step, self._h, ctypes.byref(st))
        return st.as_dict()

    def output(self, name):
        info = _native.TensorInfo()
        _native.check(_native.lib.shardflow_run_output, self._h, name.encode(), ctypes.byref(info))
        raw = ctypes.create_string_buffer(max(info.nbytes, 1))
        _native.check(_native.lib.shardflow_run_output_copy, self._h, name.encode(), raw,
                      info.nbytes)
        return _output(info, raw.raw[: info.nbytes])

    def outputs(self):
        return {name: self.output(name) for name in self.graph.outputs}


def run(graph, inputs=None, sets=None, free="eager"):
    """Load `graph` with `sets`, give it `inputs` ({name: value}), run one
    step on the cpu, and return {output name: array or Tensor}."""
    with Graph(graph, sets=sets) as g, Run(g, free=free) as r:
        for name, value in (inputs or {}).items():
            r.set_input(name, value)
        r.step()
        return r.outputs()
