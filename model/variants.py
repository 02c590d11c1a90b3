"""Backward-pass variants: named strategies that change what backprop is fed.

The exact minibatch backward pass (``model.mlp.backward``) reads four things besides
the inputs and labels:

    h_out     (B, H)  the hidden state the output layer saw in the forward pass
    h_dW2     (B, H)  the hidden state that multiplies the output delta in dW2 = delta^T h
    h_act     (B, H)  the hidden state act'(.) is evaluated from (derivatives are written from h)
    feedback  (K, H)  the matrix that carries the output delta back: delta_h = delta W2

Exact backprop uses the forward pass's own h in all three places and W2 as feedback.
A variant is a small class whose ``inputs`` method returns what to use instead; the
shared ``Variant.loss_and_grads`` runs the forward and the backward pass with them, so
every variant has the trainer's ``GradientRule`` signature. ``VARIANTS`` is the registry
(name -> question, help, factory) and ``make_rule(hp)`` builds one from the hyperparameters.

Dropout (``hp.dropout`` on hidden units, ``hp.input_dropout`` on inputs) works with every
variant: ``Variant.loss_and_grads`` multiplies the inputs by an inverted-dropout mask, and
the hidden state the variant hands back (h_out, h_dW2) and act'(.) by another, so
``backward`` itself never sees a mask. For exact backprop that is the true gradient of the
masked network; the exact variant takes the model's faster path only when dropout is off.
Training steps only: evaluation goes through ``MLP`` and never drops anything.

Random numbers come only from the generator the trainer passes in (``rule_rng``), so a
seed fixes them. ``AlignmentProbe`` measures, per weight matrix, the angle between a
variant's update and the true gradient on the same minibatch.

Leaves out: the training loop (``trainer.py``), the study over all variants
(``experiments.py``) and anything about display.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from model.mlp import MLP, Grads, backward, log_softmax

if TYPE_CHECKING:
    from model.config import HyperParams

Array = NDArray[np.floating]
Labels = NDArray[np.integer]


@dataclass(frozen=True)
class BackwardInputs:
    """What one backward pass is fed (see the module docstring for the four roles)."""

    h_out: Array  # (B, H) hidden state the output layer sees in the forward pass
    h_dW2: Array  # (B, H) hidden state multiplying the output delta in dW2
    h_act: Array  # (B, H) hidden state act'(.) is computed from
    feedback: Array  # (K, H) carries the output delta back to the hidden layer


class _Buffers:
    """Named scratch arrays, reallocated only when a shape or dtype changes."""

    def __init__(self) -> None:
        self._arrays: dict[str, Array] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: np.dtype[Any]) -> Array:
        a = self._arrays.get(name)
        if a is None or a.shape != shape or a.dtype != dtype:
            a = self._arrays[name] = np.empty(shape, dtype)
        return a


class Variant:
    """A gradient rule: forward pass, then ``backward`` fed by ``inputs``. The base is exact backprop.

    Subclasses override ``inputs`` only. ``last`` keeps the most recent ``BackwardInputs``
    (for tests and inspection); the returned gradients live in buffers reused next call.
    """

    name = "base"  # subclasses name themselves; the trainer skips the angle probe only for "exact"

    def __init__(self) -> None:
        self.key: tuple[Any, ...] = (self.name,)
        self.last: BackwardInputs | None = None
        self._buf = _Buffers()
        self._grads: Grads | None = None
        self.dropout = 0.0  # probability of dropping a hidden unit (0: off)
        self.input_dropout = 0.0  # probability of dropping an input (0: off)
        self.last_masks: tuple[Array | None, Array | None] = (None, None)  # (input (B, D), hidden (B, H))

    def state(self) -> dict[str, Array]:
        """Arrays this rule carries from step to step (saved in checkpoints); none by default."""
        return {}

    def load_state(self, arrays: dict[str, Array], shape: tuple[int, int]) -> None:
        """Restore what ``state`` returned for a net whose W2 is ``shape`` (K, H).

        ValueError (one line naming the piece) if anything does not fit this rule: nothing is
        silently redrawn or reset.
        """
        if not set(arrays) <= set(self.state_names()):
            raise ValueError(f"{self.name} keeps {sorted(self.state_names())}, the checkpoint has {sorted(arrays)}")

    def _expect(self, arrays: dict[str, Array], name: str, shape: tuple[int, ...], dtype: type) -> Array:
        """``arrays[name]`` if it has exactly ``shape`` and ``dtype`` and is finite; ValueError otherwise."""
        a = arrays[name]
        if a.shape != shape or a.dtype != dtype:
            raise ValueError(f"{self.name}: {name} is {a.dtype} {a.shape}, expected {np.dtype(dtype)} {shape}")
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise ValueError(f"{self.name}: {name} contains NaN or infinity")
        return a

    def state_names(self) -> tuple[str, ...]:
        """Names ``state`` returns once the rule has run a step."""
        return ()

    def _mask(
        self, slot: str, shape: tuple[int, ...], dtype: np.dtype[Any], p: float, rng: np.random.Generator
    ) -> Array:
        """Inverted-dropout mask: 1/(1-p) with probability 1-p, else 0; (B, n) in a reused buffer."""
        m = self._buf.get(slot, shape, dtype)
        rng.random(dtype=m.dtype.type, out=m)  # U[0, 1)
        keep = self._buf.get(slot + "_keep", shape, np.dtype(np.bool_))
        np.greater_equal(m, p, out=keep)  # kept with probability 1 - p
        return np.multiply(keep, 1.0 / (1.0 - p), out=m, dtype=m.dtype)

    def inputs(self, model: MLP, h: Array, z1: Array, rng: np.random.Generator) -> BackwardInputs:
        """What the backward pass uses; h, z1: (B, H) this minibatch's hidden state and pre-activation."""
        return BackwardInputs(h, h, h, model.W2)

    def loss_and_grads(self, model: MLP, X: Array, y: Labels, rng: np.random.Generator) -> tuple[float, Grads]:
        """Mean cross-entropy of the (possibly perturbed) forward pass and the variant's update.

        X: (B, D), y: (B,) int. Returns grads W1 (H, D), b1 (H,), W2 (K, H), b2 (K,).
        With dropout the inputs are X * m_in and the hidden state the variant hands back is
        multiplied by m (inverted-dropout masks, 0 or 1/(1-p), drawn from ``rng``) wherever it
        enters the output layer or dW2; act'(.) is multiplied by the same m, so the backward
        pass is the exact gradient of the masked network (for the exact variant).
        """
        B, (H, D) = X.shape[0], model.W1.shape
        dtype = model.W1.dtype
        m_in = m_h = None
        if self.input_dropout:
            m_in = self._mask("m_in", (B, D), dtype, self.input_dropout, rng)  # (B, D)
            X = np.multiply(X, m_in, out=self._buf.get("X_drop", (B, D), dtype))
        z1 = np.matmul(X, model.W1.T, out=self._buf.get("z1", (B, H), dtype))
        z1 += model.b1  # pre-activation, (B, H)
        h = model.act.forward(z1, out=self._buf.get("h", (B, H), z1.dtype))  # (B, H)
        if self.dropout:
            m_h = self._mask("m_h", (B, H), dtype, self.dropout, rng)  # (B, H)
        fed = self.inputs(model, h, z1, rng)
        self.last, self.last_masks = fed, (m_in, m_h)
        # act'(.) from the unmasked state (sigmoid's h(1-h) needs the real h), then masked
        dact = model.act.grad_from_output(fed.h_act, out=self._buf.get("dact", (B, H), h.dtype))
        h_out, h_dW2 = fed.h_out, fed.h_dW2
        if m_h is not None:
            dact *= m_h  # d h~ / d z1 = act'(z1) m, (B, H)
            h_out = np.multiply(fed.h_out, m_h, out=self._buf.get("h_out_drop", (B, H), dtype))  # h~ = h m
            if fed.h_dW2 is fed.h_out:
                h_dW2 = h_out
            else:
                h_dW2 = np.multiply(fed.h_dW2, m_h, out=self._buf.get("h_dW2_drop", (B, H), dtype))
        logits = h_out @ model.W2.T  # (B, K)
        logits += model.b2
        log_probs = log_softmax(logits)
        probs = np.exp(log_probs)
        loss = float(-log_probs[np.arange(B), y].mean())
        if self._grads is None or self._grads["W1"].shape != model.W1.shape:
            self._grads = {k: np.empty_like(v) for k, v in model.params.items()}
        return loss, backward(X, y, probs, h_dW2, dact, fed.feedback, self._grads)


class Exact(Variant):
    """True backprop, through the model's own (fastest) path; with dropout, the masked network's."""

    name = "exact"

    def loss_and_grads(self, model: MLP, X: Array, y: Labels, rng: np.random.Generator) -> tuple[float, Grads]:
        if self.dropout or self.input_dropout:
            return super().loss_and_grads(model, X, y, rng)
        return model.loss_and_grads(X, y, reuse_buffers=True)


class RandomFeedback(Variant):
    """Q1: a random (K, H) matrix instead of W2 in delta_h = delta_out W2.

    Drawn like W2's initialisation, N(0, 1/H): once (``redraw=False``, feedback
    alignment) or afresh every step. ``draw`` can be replaced (tests use W2 itself).
    """

    def __init__(self, redraw: bool) -> None:
        self.name = "feedback-redrawn" if redraw else "feedback-fixed"
        super().__init__()
        self.redraw = redraw
        self.feedback: Array | None = None

    def state_names(self) -> tuple[str, ...]:
        return () if self.redraw else ("feedback",)

    def state(self) -> dict[str, Array]:
        return {} if self.redraw or self.feedback is None else {"feedback": self.feedback}

    def load_state(self, arrays: dict[str, Array], shape: tuple[int, int]) -> None:
        super().load_state(arrays, shape)
        if "feedback" in arrays:
            self.feedback = self._expect(arrays, "feedback", shape, np.float32).copy()

    def draw(self, model: MLP, rng: np.random.Generator, out: Array) -> Array:
        """Fill ``out`` (K, H) with N(0, 1/H) numbers."""
        out[...] = rng.standard_normal(out.shape, dtype=np.float32)
        out *= 1.0 / math.sqrt(out.shape[1])
        return out

    def inputs(self, model: MLP, h: Array, z1: Array, rng: np.random.Generator) -> BackwardInputs:
        W2, fb = model.W2, self.feedback
        if fb is None or fb.shape != W2.shape or fb.dtype != W2.dtype:
            fb = self.feedback = self.draw(model, rng, np.empty_like(W2))
        elif self.redraw:
            fb = self.feedback = self.draw(model, rng, fb)
        return BackwardInputs(h, h, h, fb)


class StaleWeights(Variant):
    """Q2: the W2 of k steps ago carries the delta back (the forward pass uses the current weights).

    A ring of k+1 preallocated (K, H) slots is written in place each step; until k steps
    have passed the oldest copy (the first step's W2) is used. k = 0 is exact backprop.
    """

    name = "stale"

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k
        self.key = (self.name, k)
        self.ring: Array | None = None  # (k+1, K, H)
        self.t = 0  # calls so far

    def state_names(self) -> tuple[str, ...]:
        return ("ring", "t")

    def state(self) -> dict[str, Array]:
        return {} if self.ring is None else {"ring": self.ring, "t": np.array(self.t, np.int64)}

    def load_state(self, arrays: dict[str, Array], shape: tuple[int, int]) -> None:
        super().load_state(arrays, shape)
        if not arrays:
            return
        if set(arrays) != {"ring", "t"}:
            raise ValueError(f"stale: needs both ring and t, the checkpoint has {sorted(arrays)}")
        ring = self._expect(arrays, "ring", (self.k + 1, *shape), np.float32)
        t = self._expect(arrays, "t", (), np.int64)
        if int(t) < 0:
            raise ValueError(f"stale: step counter t={int(t)} is negative")
        self.ring, self.t = ring.copy(), int(t)

    def inputs(self, model: MLP, h: Array, z1: Array, rng: np.random.Generator) -> BackwardInputs:
        W2 = model.W2
        if self.ring is None or self.ring.shape[1:] != W2.shape or self.ring.dtype != W2.dtype:
            self.ring = np.empty((self.k + 1, *W2.shape), W2.dtype)
            self.ring[...] = W2
            self.t = 0
        n = self.k + 1
        np.copyto(self.ring[self.t % n], W2)  # this step's W2
        stale = self.ring[(self.t + 1) % n]  # written k steps ago, (K, H)
        self.t += 1
        return BackwardInputs(h, h, h, stale)


class RandomHidden(Variant):
    """Q3/Q4: random hidden states where act'(.) is evaluated (``where="act"``) or in dW2 (``"dW2"``).

    A random state is act(mu + sd * xi) with xi ~ N(0, 1) of shape (B, H) and mu, sd the
    per-unit mean and standard deviation of this minibatch's pre-activations z1: each unit
    keeps its own scale and (for ReLU) its firing rate, but the state is unrelated to the
    example. ``redraw=False`` keeps one xi for the whole run (a larger batch draws more rows).
    """

    def __init__(self, where: str, redraw: bool) -> None:
        if where not in ("act", "dW2"):
            raise ValueError(f"where must be 'act' or 'dW2' (got {where!r})")
        self.name = f"random-h-{'act' if where == 'act' else 'dw'}-{'redrawn' if redraw else 'fixed'}"
        super().__init__()
        self.where, self.redraw = where, redraw
        self.xi: Array | None = None  # (B_max, H) standard normals

    def state_names(self) -> tuple[str, ...]:
        return () if self.redraw else ("xi",)

    def state(self) -> dict[str, Array]:
        return {} if self.redraw or self.xi is None else {"xi": self.xi}

    def load_state(self, arrays: dict[str, Array], shape: tuple[int, int]) -> None:
        super().load_state(arrays, shape)
        if "xi" in arrays:
            rows = arrays["xi"].shape[0] if arrays["xi"].ndim == 2 and len(arrays["xi"]) else 1
            self.xi = self._expect(arrays, "xi", (rows, shape[1]), np.float32).copy()

    def random_h(self, model: MLP, h: Array, z1: Array, rng: np.random.Generator) -> Array:
        """A random hidden state shaped like h (B, H), written into a reused buffer."""
        B, H = h.shape
        if self.xi is None or self.xi.shape[1] != H or self.xi.shape[0] < B or self.xi.dtype != h.dtype:
            self.xi = rng.standard_normal((B, H), dtype=np.float32).astype(h.dtype, copy=False)
        elif self.redraw:
            self.xi = rng.standard_normal(self.xi.shape, dtype=np.float32).astype(h.dtype, copy=False)
        out = self._buf.get("h_rand", (B, H), h.dtype)
        np.multiply(self.xi[:B], z1.std(axis=0), out=out)
        out += z1.mean(axis=0)
        return model.act.forward(out, out=out)

    def inputs(self, model: MLP, h: Array, z1: Array, rng: np.random.Generator) -> BackwardInputs:
        r = self.random_h(model, h, z1, rng)
        return BackwardInputs(h, r, h, model.W2) if self.where == "dW2" else BackwardInputs(h, h, r, model.W2)


NOISE_MODES = ("forward", "backward", "same", "independent")


class HiddenNoise(Variant):
    """Q5: h + N(0, sigma^2) in the forward pass, the backward pass (act' and dW2), or both.

    ``same`` feeds one noisy h everywhere (as if h were overwritten in place), ``independent``
    draws a second sample for the backward pass. sigma = 0 is exact backprop.
    """

    def __init__(self, mode: str, sigma: float) -> None:
        if mode not in NOISE_MODES:
            raise ValueError(f"noise mode must be one of {', '.join(NOISE_MODES)} (got {mode!r})")
        self.name = f"noise-{mode}"
        super().__init__()
        self.mode, self.sigma = mode, sigma
        self.key = (self.name, sigma)

    def _noisy(self, h: Array, rng: np.random.Generator, slot: str) -> Array:
        out = self._buf.get(slot, h.shape, h.dtype)
        if out.dtype == np.float32:
            rng.standard_normal(dtype=np.float32, out=out)
        else:
            out[...] = rng.standard_normal(h.shape)
        out *= self.sigma
        out += h  # h + eps, (B, H)
        return out

    def inputs(self, model: MLP, h: Array, z1: Array, rng: np.random.Generator) -> BackwardInputs:
        W2 = model.W2
        if self.mode == "forward":
            return BackwardInputs(self._noisy(h, rng, "n1"), h, h, W2)
        if self.mode == "backward":
            n = self._noisy(h, rng, "n1")
            return BackwardInputs(h, n, n, W2)
        if self.mode == "same":
            n = self._noisy(h, rng, "n1")
            return BackwardInputs(n, n, n, W2)
        n1, n2 = self._noisy(h, rng, "n1"), self._noisy(h, rng, "n2")
        return BackwardInputs(n1, n2, n2, W2)


ROUND_PLACES = ("forward", "act", "dW2")


class Rounding(Variant):
    """Q6: h rounded to the nearest integer in some of: the forward pass, act'(.), dW2."""

    def __init__(self, name: str, places: frozenset[str]) -> None:
        if not places <= set(ROUND_PLACES):
            raise ValueError(f"rounding places must be among {', '.join(ROUND_PLACES)}")
        self.name = name
        super().__init__()
        self.places = places

    def inputs(self, model: MLP, h: Array, z1: Array, rng: np.random.Generator) -> BackwardInputs:
        r = np.rint(h, out=self._buf.get("h_round", h.shape, h.dtype)) if self.places else h

        def pick(place: str) -> Array:
            return r if place in self.places else h

        return BackwardInputs(pick("forward"), pick("dW2"), pick("act"), model.W2)


# ---- registry -----------------------------------------------------------------------------


@dataclass(frozen=True)
class VariantInfo:
    """One registered variant: the assignment question it answers, a help line, a factory."""

    name: str
    question: str
    help: str
    make: Callable[[HyperParams], Variant]
    options: tuple[str, ...] = ()  # HyperParams fields the variant reads


def _round(name: str, *places: str) -> Callable[[HyperParams], Variant]:
    return lambda hp: Rounding(name, frozenset(places))


_INFOS = [
    VariantInfo("exact", "-", "true backprop", lambda hp: Exact()),
    VariantInfo(
        "feedback-fixed", "1a", "one random matrix replaces W2 in the backward pass", lambda hp: RandomFeedback(False)
    ),
    VariantInfo(
        "feedback-redrawn", "1b", "a new random matrix replaces W2 every step", lambda hp: RandomFeedback(True)
    ),
    VariantInfo(
        "stale",
        "2",
        "W2 from stale_k steps ago in the backward pass",
        lambda hp: StaleWeights(hp.stale_k),
        ("stale_k",),
    ),
    VariantInfo(
        "random-h-act-fixed", "3a", "fixed random h where act'(.) is evaluated", lambda hp: RandomHidden("act", False)
    ),
    VariantInfo(
        "random-h-act-redrawn", "3b", "random h for act'(.), redrawn every step", lambda hp: RandomHidden("act", True)
    ),
    VariantInfo("random-h-dw-fixed", "4", "fixed random h in dL/dW2", lambda hp: RandomHidden("dW2", False)),
    VariantInfo(
        "random-h-dw-redrawn", "4", "random h in dL/dW2, redrawn every step", lambda hp: RandomHidden("dW2", True)
    ),
    VariantInfo(
        "noise-forward",
        "5a",
        "h + N(0, sigma^2) in the forward pass only",
        lambda hp: HiddenNoise("forward", hp.sigma),
        ("sigma",),
    ),
    VariantInfo(
        "noise-backward",
        "5b",
        "h + noise in the backward pass only",
        lambda hp: HiddenNoise("backward", hp.sigma),
        ("sigma",),
    ),
    VariantInfo("noise-same", "5c", "one noisy h in both passes", lambda hp: HiddenNoise("same", hp.sigma), ("sigma",)),
    VariantInfo(
        "noise-independent",
        "5d",
        "independent noise in each pass",
        lambda hp: HiddenNoise("independent", hp.sigma),
        ("sigma",),
    ),
    VariantInfo("round-forward", "6", "round(h) in the forward pass", _round("round-forward", "forward")),
    VariantInfo("round-backward", "6", "round(h) where act'(.) is evaluated", _round("round-backward", "act")),
    VariantInfo("round-dw", "6", "round(h) in dL/dW2", _round("round-dw", "dW2")),
    VariantInfo(
        "round-forward-backward",
        "6",
        "round(h) in the forward pass and act'(.)",
        _round("round-forward-backward", "forward", "act"),
    ),
    VariantInfo(
        "round-forward-dw", "6", "round(h) in the forward pass and dL/dW2", _round("round-forward-dw", "forward", "dW2")
    ),
    VariantInfo(
        "round-everywhere",
        "6",
        "round(h) in the forward pass, act'(.) and dL/dW2",
        _round("round-everywhere", *ROUND_PLACES),
    ),
]
VARIANTS: dict[str, VariantInfo] = {info.name: info for info in _INFOS}
VARIANT_NAMES = tuple(VARIANTS)
#: HyperParams fields that configure some variant.
VARIANT_OPTIONS = ("sigma", "stale_k")


def variant_key(hp: HyperParams) -> tuple[Any, ...]:
    """The variant name plus the options it reads: a rule is rebuilt only when this changes."""
    info = get_variant(hp.variant)
    return (info.name, *(getattr(hp, o) for o in info.options))


def get_variant(name: str) -> VariantInfo:
    """Look up a variant by name; ValueError lists the choices."""
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown variant {name!r} (choose from {', '.join(VARIANTS)})") from None


def make_rule(hp: HyperParams) -> Variant:
    """A fresh gradient rule for ``hp.variant`` with its options (fixed draws happen on first use)."""
    rule = get_variant(hp.variant).make(hp)
    rule.key = variant_key(hp)
    rule.dropout, rule.input_dropout = hp.dropout, hp.input_dropout
    return rule


# ---- diagnostics ----------------------------------------------------------------------------


def angle_degrees(a: Array, b: Array) -> float:
    """Angle between two arrays seen as vectors, in degrees; NaN if either is zero. Identical -> 0."""
    order: Literal["F", "C"] = "F" if a.flags.f_contiguous and b.flags.f_contiguous else "C"  # views, no copy
    a1, b1 = a.ravel(order=order), b.ravel(order=order)
    ab, aa, bb = float(np.dot(a1, b1)), float(np.dot(a1, a1)), float(np.dot(b1, b1))
    if aa == 0.0 or bb == 0.0 or not math.isfinite(ab * aa * bb):
        return math.nan
    cos = ab / math.sqrt(aa * bb)
    return math.degrees(math.acos(min(1.0, max(-1.0, cos))))


class AlignmentProbe:
    """Per-layer angle between a variant's update and the exact gradient on the same minibatch.

    The exact gradient goes into the probe's own buffers, so it never overwrites the
    variant's (or the model's) gradient arrays.
    """

    def __init__(self, layers: tuple[str, ...] = ("W1", "W2")) -> None:
        self.layers = layers
        self._ref: Grads | None = None

    def exact(self, model: MLP, X: Array, y: Labels) -> Grads:
        """The true gradient on (X (B, D), y (B,)), in reused buffers."""
        h, _, probs = model.forward_for_backprop(X)
        dact = model.act.grad_from_output(h)
        if self._ref is None or self._ref["W1"].shape != model.W1.shape or self._ref["W1"].dtype != model.W1.dtype:
            self._ref = {k: np.empty_like(v) for k, v in model.params.items()}
        return backward(X, y, probs, h, dact, model.W2, self._ref)

    def __call__(self, model: MLP, X: Array, y: Labels, grads: Grads) -> dict[str, float]:
        """{"W1": degrees, "W2": degrees} for ``grads`` computed on (X, y)."""
        ref = self.exact(model, X, y)
        return {name: angle_degrees(grads[name], ref[name]) for name in self.layers}
