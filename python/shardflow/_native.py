"""libshardflow through ctypes: finding the library, the prototypes of
include/shardflow.h, and its errors as ShardflowError. No compile step."""

import ctypes
import ctypes.util
import os

MAX_DIMS = 8

# Error codes of include/shardflow.h (their values are part of the ABI).
CODES = {
    0: "ok",
    1: "parse",
    2: "graph",
    3: "input",
    4: "io",
    5: "nomem",
    6: "unsupported",
    7: "other",
}


class ShardflowError(Exception):
    """A failed call: code (a name from CODES), message (rendered like a
    compiler's, file:line:col: error: ...), file, line, column, and the
    exit status the shardflow command would give (2: bad input)."""

    def __init__(self, code, message, file="", line=0, column=0, exit_status=1):
        super().__init__(message)
        self.code = code
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.exit_status = exit_status


class Set(ctypes.Structure):
    _fields_ = [("key", ctypes.c_char_p), ("value", ctypes.c_char_p)]


class TensorInfo(ctypes.Structure):
    _fields_ = [
        ("dtype", ctypes.c_char * 16),
        ("ndim", ctypes.c_int),
        ("shape", ctypes.c_int64 * MAX_DIMS),
        ("nbytes", ctypes.c_uint64),
    ]


class Stats(ctypes.Structure):
    _fields_ = [
        ("rank", ctypes.c_int),
        ("peak_bytes", ctypes.c_uint64),
        ("peak_node", ctypes.c_char * 256),
        ("end_bytes", ctypes.c_uint64),
        ("n_allocs", ctypes.c_int64),
        ("wall_s", ctypes.c_double),
    ]

    def as_dict(self):
        return {
            "rank": self.rank,
            "peak_bytes": self.peak_bytes,
            "peak_node": self.peak_node.decode(),
            "end_bytes": self.end_bytes,
            "allocs": self.n_allocs,
            "wall_s": self.wall_s,
        }


def _candidates():
    """Where the library may be: $SHARDFLOW_LIB, next to an installed
    package (PREFIX/lib/shardflow/python/shardflow -> PREFIX/lib), a build
    folder of the source tree, then the system's search path."""
    env = os.environ.get("SHARDFLOW_LIB")
    if env:
        yield env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    yield os.path.normpath(os.path.join(here, "..", "..", "..", "libshardflow.so"))
    yield os.path.normpath(os.path.join(here, "..", "..", "build", "libshardflow.so"))
    found = ctypes.util.find_library("shardflow")
    if found:
        yield found


def _load():
    tried = []
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            tried.append(path)
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise ImportError(
        "libshardflow not found; set SHARDFLOW_LIB to its path (tried: %s)" % ", ".join(tried)
    )


lib = _load()

_P = ctypes.c_void_p
_ERR = ctypes.POINTER(ctypes.c_void_p)


def _proto(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)


_proto("shardflow_error_code", ctypes.c_int, _P)
_proto("shardflow_error_message", ctypes.c_char_p, _P)
_proto("shardflow_error_file", ctypes.c_char_p, _P)
_proto("shardflow_error_line", ctypes.c_int, _P)
_proto("shardflow_error_column", ctypes.c_int, _P)
_proto("shardflow_error_exit_status", ctypes.c_int, _P)
_proto("shardflow_error_free", None, _P)
_proto("shardflow_version", ctypes.c_char_p)
_proto("shardflow_graph_load", ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(Set), ctypes.c_int,
       ctypes.c_int, ctypes.c_int, ctypes.POINTER(_P), _ERR)
_proto("shardflow_graph_free", None, _P)
_proto("shardflow_graph_name", ctypes.c_char_p, _P)
_proto("shardflow_graph_n_inputs", ctypes.c_int, _P)
_proto("shardflow_graph_input_name", ctypes.c_char_p, _P, ctypes.c_int)
_proto("shardflow_graph_n_outputs", ctypes.c_int, _P)
_proto("shardflow_graph_output_name", ctypes.c_char_p, _P, ctypes.c_int)
_proto("shardflow_graph_tensor", ctypes.c_int, _P, ctypes.c_char_p, ctypes.POINTER(TensorInfo),
       _ERR)
_proto("shardflow_plan", ctypes.c_int, _P, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(Stats),
       _ERR)
_proto("shardflow_run_new", ctypes.c_int, _P, ctypes.c_char_p, ctypes.POINTER(_P), _ERR)
_proto("shardflow_run_set_input", ctypes.c_int, _P, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int,
       ctypes.POINTER(ctypes.c_int64), ctypes.c_void_p, ctypes.c_size_t, _ERR)
_proto("shardflow_run_step", ctypes.c_int, _P, ctypes.POINTER(Stats), _ERR)
_proto("shardflow_run_output", ctypes.c_int, _P, ctypes.c_char_p, ctypes.POINTER(TensorInfo), _ERR)
_proto("shardflow_run_output_copy", ctypes.c_int, _P, ctypes.c_char_p, ctypes.c_void_p,
       ctypes.c_size_t, _ERR)
_proto("shardflow_run_free", None, _P)


def check(call, *args):
    """Call a fallible function (its last argument is the error out-
    parameter, added here); raise ShardflowError when it fails."""
    err = ctypes.c_void_p()
    code = call(*args, ctypes.byref(err))
    if code == 0:
        return
    if not err:
        raise ShardflowError(CODES.get(code, "other"), "shardflow: error code %d" % code)
    try:
        raise ShardflowError(
            CODES.get(lib.shardflow_error_code(err), "other"),
            lib.shardflow_error_message(err).decode(errors="replace"),
            lib.shardflow_error_file(err).decode(errors="replace"),
            lib.shardflow_error_line(err),
            lib.shardflow_error_column(err),
            lib.shardflow_error_exit_status(err),
        )
    finally:
        lib.shardflow_error_free(err)
