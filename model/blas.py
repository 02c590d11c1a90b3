"""Two BLAS calls that numpy does not expose, made through the BLAS numpy itself loaded.

    gemm:  C = alpha A B + beta C     numpy's matmul has no beta: it overwrites C
    axpy:  y = y + a x                numpy needs a temporary for a x and a second pass

They let the trainer's momentum update be one product and one pass (``Trainer._apply``):
v = mu v + delta1^T X inside the product that makes the gradient, then W -= lr v, both on
every BLAS thread, where numpy's elementwise operations make four passes on one core.

The library is OpenBLAS as numpy's wheels ship it, found through threadpoolctl and called
through ctypes (which releases the GIL), so the calls share numpy's thread pool and its
thread cap. Its configuration string says whether its integers are 64-bit. With another BLAS
(MKL, Accelerate), or with float64 arrays, ``gemm`` and ``axpy`` fall back to numpy and
``available()`` is False, so callers can keep a numpy path that needs no temporaries.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[Any]
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112  # CBLAS enums
#: Below this many elements axpy goes through numpy: a ctypes call costs ~3 us, numpy's two passes
#: over a bias (256 floats) ~1 us; over W1 at H=256 (200,704 floats) axpy took 35 us, numpy 77.
AXPY_MIN_SIZE = 4096


@functools.cache
def _openblas() -> tuple[Callable[..., None], Callable[..., None]] | None:
    """(cblas_sgemm, cblas_saxpy) of the OpenBLAS numpy loaded, typed; None if there is none."""
    try:
        from threadpoolctl import threadpool_info

        infos = [i for i in threadpool_info() if i.get("internal_api") == "openblas"]
        numpys = [i for i in infos if "numpy" in str(i.get("filepath"))]  # the wheel's numpy.libs/
        infos = numpys or infos
        if len(infos) != 1:  # none, or several and no telling which one numpy calls
            return None
        lib = ctypes.CDLL(infos[0]["filepath"])
        for prefix in ("scipy_", ""):  # numpy >= 2 wheels: scipy_cblas_sgemm64_; older: cblas_sgemm64_
            for suffix in ("64_", ""):
                names = [f"{prefix}{name}{suffix}" for name in ("cblas_sgemm", "cblas_saxpy", "openblas_get_config")]
                if all(hasattr(lib, n) for n in names):
                    return _typed(*(getattr(lib, n) for n in names))
    except (ImportError, OSError, AttributeError, KeyError):
        pass
    return None


def _typed(sgemm: Any, saxpy: Any, config: Any) -> tuple[Callable[..., None], Callable[..., None]] | None:
    config.restype = ctypes.c_char_p
    text = (config() or b"").decode(errors="replace")
    index = ctypes.c_int64 if "USE64BITINT" in text else ctypes.c_int32
    f32, ptr, enum = ctypes.c_float, ctypes.c_void_p, ctypes.c_int
    sgemm.restype = saxpy.restype = None
    sgemm.argtypes = [enum, enum, enum, index, index, index, f32, ptr, index, ptr, index, f32, ptr, index]
    saxpy.argtypes = [index, f32, ptr, index, ptr, index]
    return sgemm, saxpy


def available() -> bool:
    """True when ``gemm`` and ``axpy`` on float32 arrays run in numpy's own OpenBLAS."""
    return _openblas() is not None


def _operand(a: Array) -> tuple[int, int] | None:
    """(CBLAS transpose flag, leading dimension) of a 2-D float32 array read in row-major
    order, or None when its memory layout is neither C nor Fortran contiguous."""
    if a.dtype != np.float32 or a.ndim != 2:
        return None
    if a.flags.c_contiguous:
        return _NO_TRANS, max(1, a.shape[1])
    if a.flags.f_contiguous:  # a Fortran (M, K) array is a row-major (K, M) one, transposed
        return _TRANS, max(1, a.shape[0])
    return None


def gemm(a: Array, b: Array, out: Array, alpha: float = 1.0, beta: float = 0.0) -> Array:
    """out = alpha a b + beta out, in place; a: (M, K), b: (K, N), out: (M, N). Returns ``out``.

    ``out`` must not overlap ``a`` or ``b``. With beta = 0 the old contents of ``out`` are not read.
    """
    if out.ndim == 2 and out.flags.f_contiguous and not out.flags.c_contiguous:
        gemm(b.T, a.T, out.T, alpha, beta)  # out^T = alpha b^T a^T + beta out^T: out^T is row-major
        return out
    blas, ta, tb = _openblas(), _operand(a), _operand(b)
    if blas is not None and ta and tb and out.dtype == np.float32 and out.ndim == 2 and out.flags.c_contiguous:
        (M, K), N = a.shape, b.shape[1]
        if M and N:
            blas[0](_ROW_MAJOR, ta[0], tb[0], M, N, K, alpha, a.ctypes.data, ta[1], b.ctypes.data, tb[1],
                    beta, out.ctypes.data, max(1, N))  # fmt: skip
        return out
    product = np.matmul(a, b, out=out if beta == 0.0 else None)
    if beta != 0.0:
        out *= beta
        out += product if alpha == 1.0 else alpha * product
    elif alpha != 1.0:
        out *= alpha
    return out


def axpy(a: float, x: Array, y: Array, work: Array | None = None) -> Array:
    """y += a x, in place, in one pass; x, y: same shape, dtype and contiguous layout. Returns ``y``.

    Without OpenBLAS, and for arrays under ``AXPY_MIN_SIZE`` (where the foreign call costs more
    than it saves), numpy makes two passes through ``work`` (like x; a temporary if None).
    """
    blas = _openblas()
    same_layout = (x.flags.c_contiguous and y.flags.c_contiguous) or (x.flags.f_contiguous and y.flags.f_contiguous)
    big = y.size >= AXPY_MIN_SIZE and x.shape == y.shape
    if blas is not None and big and x.dtype == y.dtype == np.float32 and same_layout:
        blas[1](y.size, a, x.ctypes.data, 1, y.ctypes.data, 1)
        return y
    y += np.multiply(x, a, out=work)
    return y
