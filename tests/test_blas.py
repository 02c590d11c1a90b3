"""The BLAS calls numpy does not expose (gemm with beta, axpy), and the trainer's update built on them.

Every check runs twice: through numpy's own OpenBLAS where there is one, and through the
numpy fallback (``_openblas`` reporting none), which must compute the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from model import blas
from model.config import HyperParams
from model.trainer import Trainer


@pytest.fixture(params=["openblas", "numpy"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "openblas" and not blas.available():
        pytest.skip("numpy is not linked to an OpenBLAS this module can call")
    if request.param == "numpy":
        monkeypatch.setattr(blas, "_openblas", lambda: None)
    yield request.param


def _layout(a: np.ndarray, fortran: bool) -> np.ndarray:
    return np.asfortranarray(a) if fortran else np.ascontiguousarray(a)


LAYOUTS = [(False, False, False), (True, False, True), (False, True, True), (True, True, False)]  # Fortran: a, b, c


@pytest.mark.parametrize("shape", [(40, 16, 30), (3, 5, 7), (1, 4, 1), (6, 1, 3)])
@pytest.mark.parametrize("layouts", LAYOUTS)
@pytest.mark.parametrize(("alpha", "beta"), [(1.0, 0.0), (0.5, 0.9), (-2.0, 1.0)])
def test_gemm_is_alpha_ab_plus_beta_c_in_place(
    path: str, shape: tuple[int, int, int], layouts: tuple[bool, bool, bool], alpha: float, beta: float
) -> None:
    rng = np.random.default_rng(0)
    M, K, N = shape
    a, b, c = (rng.standard_normal(s, dtype=np.float32) for s in ((M, K), (K, N), (M, N)))
    a, b, c = (_layout(x, f) for x, f in zip((a, b, c), layouts, strict=True))
    expected = alpha * (a.astype(np.float64) @ b) + beta * c
    out = blas.gemm(a, b, out=c, alpha=alpha, beta=beta)
    assert out is c
    np.testing.assert_allclose(c, expected, rtol=1e-5, atol=1e-5)


def test_gemm_reads_transposed_views_like_the_gradient_product(path: str) -> None:
    """dW1 = delta1^T X into W1's Fortran-ordered velocity, as the trainer calls it."""
    rng = np.random.default_rng(1)
    delta, X = rng.standard_normal((32, 20), dtype=np.float32), rng.random((32, 50), dtype=np.float32)
    v = np.asfortranarray(rng.standard_normal((20, 50), dtype=np.float32))
    expected = 0.9 * v + delta.T.astype(np.float64) @ X
    blas.gemm(delta.T, X, out=v, beta=0.9)
    np.testing.assert_allclose(v, expected, rtol=1e-5, atol=1e-5)


def test_beta_zero_ignores_what_out_held(path: str) -> None:
    a, b = np.ones((2, 3), np.float32), np.ones((3, 2), np.float32)
    out = np.full((2, 2), np.nan, np.float32)
    blas.gemm(a, b, out=out)
    assert (out == 3.0).all()


@pytest.mark.parametrize("fortran", [False, True])
@pytest.mark.parametrize("shape", [(80, 100), (3, 4)])  # through the BLAS, and under AXPY_MIN_SIZE
def test_axpy_adds_a_multiple_in_place(path: str, fortran: bool, shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(2)
    x, y = (_layout(rng.standard_normal(shape, dtype=np.float32), fortran) for _ in range(2))
    expected = y + np.float32(-0.3) * x
    assert blas.axpy(-0.3, x, y, work=np.empty_like(x)) is y
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6)


def test_float64_goes_through_numpy() -> None:
    a, b, c = np.ones((2, 3)), np.ones((3, 2)), np.ones((2, 2))
    blas.gemm(a, b, out=c, beta=1.0)
    assert (c == 4.0).all() and c.dtype == np.float64


@pytest.mark.parametrize(
    "changes", [{}, {"momentum": 0.0}, {"weight_decay": 1e-3, "max_norm": 1.5}, {"label_smoothing": 0.1}]
)
def test_the_fused_update_trains_as_numpy_does(changes: dict[str, float]) -> None:
    """The same run with W1's update fused into its product and with numpy's four passes: the same
    weights and velocity, to float32 rounding, after a few dozen steps."""
    rng = np.random.default_rng(3)
    X, y = rng.random((256, 30), dtype=np.float32), rng.integers(0, 10, 256)
    hp = HyperParams().validated(hidden=12, batch_size=32, lr=0.1, **changes)
    fused, plain = (Trainer((X, y), hp, fused_update=f) for f in (True, False))
    assert fused._fuse_w1() == blas.available() and not plain._fuse_w1()
    for _ in range(40):
        a, b = fused.step(), plain.step()
        assert a.loss == pytest.approx(b.loss, rel=1e-4)
    for name, w in fused.model.params.items():
        np.testing.assert_allclose(w, plain.model.params[name], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(fused.velocity[name], plain.velocity[name], rtol=1e-4, atol=1e-5)
