"""Which serialized models a process agrees to load: the one policy every flavor loader consults.

Pickle (and cloudpickle, ``torch.load`` of a whole module) runs code while it
loads. In the user's own process (:func:`~modelyard.models.load_model`,
``modelyard predict``) such a model loads with an :class:`UnsafeSerializationWarning`,
as MLflow's loaders warn. ``modelyard serve`` loads whatever version its alias is
moved to, unattended, so it refuses them unless started with ``--allow-pickle``
(``MODELYARD_SERVE_ALLOW_PICKLE``).

skops models name the types they contain. A type skops does not trust by itself
loads only when it is both trusted here (:data:`SKLEARN_TRUSTED_TYPES`, plus
``MODELYARD_SKOPS_TRUSTED_TYPES`` and ``--trusted-types`` or ``skops_trusted_types=``)
and declared in the model's ``MLmodel`` (``skops_trusted_types``, which MLflow and
we write when saving): a model's own list never widens what is trusted.

>>> policy = serving_policy(allow_pickle=False, extra_types=["mypkg.MyScaler"])
>>> load_model("models:/churn@champion", trust=policy)
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, replace

from ..errors import UntrustedModel

log = logging.getLogger(__name__)

_DIST = "sklearn.metrics._dist_metrics."
_METRICS = (
    "BrayCurtis", "Canberra", "Chebyshev", "Dice", "Euclidean", "Hamming", "Haversine", "Jaccard", "Kulsinski",
    "Mahalanobis", "Manhattan", "Matching", "Minkowski", "RogersTanimoto", "RussellRao", "SEuclidean",
    "SokalMichener", "SokalSneath",
)

# scikit-learn's own compiled (Cython) and helper types that skops 0.16 does not trust by itself,
# found with ``skops.io.get_untrusted_types`` on fitted trees, forests, gradient boosting (plain
# and histogram), nearest neighbours and MLPs. None of them calls user code while it loads
# (``PyFuncDistance``, which holds a Python function, is left out on purpose).
SKLEARN_TRUSTED_TYPES: frozenset[str] = frozenset({
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    *(f"{_DIST}{name}Distance{bits}" for name in _METRICS for bits in (32, 64)),
})

LOCAL_TYPES_HINT = "pass skops_trusted_types=[...] to load_model, or set MODELYARD_SKOPS_TRUSTED_TYPES"
SERVE_TYPES_HINT = "start the server with --trusted-types TYPE[,TYPE...] or set MODELYARD_SKOPS_TRUSTED_TYPES"
SERVE_PICKLE_HINT = (
    "start `modelyard serve` with --allow-pickle (or set MODELYARD_SERVE_ALLOW_PICKLE=true), only if "
    "everyone who can register model versions and move this alias is trusted to run code on this server"
)


class UnsafeSerializationWarning(UserWarning):
    """A model is saved or loaded with pickle: loading it can run arbitrary code."""


def warn_unsafe(action: str, fmt: str, stacklevel: int = 4) -> None:
    warnings.warn(
        f"{action} a model with {fmt}: unpickling can run arbitrary code, so load it only from a "
        "source you trust. The safe default formats are skops (scikit-learn), safetensors (PyTorch, "
        "Transformers) and importable class + state (plain Python).",
        UnsafeSerializationWarning,
        stacklevel=stacklevel,
    )


def parse_types(text: str | Iterable[str] | None) -> frozenset[str]:
    """``"a.B, c.D"`` or ``["a.B", "c.D,e.F"]`` → the set of type names."""
    if not text:
        return frozenset()
    parts = [text] if isinstance(text, str) else list(text)
    return frozenset(t.strip() for part in parts for t in part.split(",") if t.strip())


@dataclass(frozen=True)
class TrustPolicy:
    """What a loader may deserialize.

    ``pickle``: ``"warn"`` (load with a warning), ``"allow"`` (load, log it) or
    ``"refuse"`` (raise :class:`~modelyard.errors.UntrustedModel`).
    ``trusted_types``: the skops types this process trusts.
    The hints say how to change each decision where the policy applies.
    """

    pickle: str = "warn"
    trusted_types: frozenset[str] = SKLEARN_TRUSTED_TYPES
    pickle_hint: str = ""
    types_hint: str = LOCAL_TYPES_HINT

    def trusting(self, extra_types: str | Iterable[str] | None) -> TrustPolicy:
        """This policy with ``extra_types`` trusted too."""
        extra = parse_types(extra_types)
        return replace(self, trusted_types=self.trusted_types | extra) if extra else self

    def check_pickle(self, fmt: str) -> None:
        """Call right before unpickling a model saved with ``fmt``: warns, logs or refuses."""
        if self.pickle == "refuse":
            raise UntrustedModel(
                f"Refusing to load a model saved with {fmt}: unpickling it can run arbitrary code. To load "
                f"pickled models, {self.pickle_hint}. Safer: log the model with its default format (skops, "
                "safetensors, or importable class + state).",
                reason="pickle",
            )
        if self.pickle == "allow":
            log.warning("loading a model saved with %s (pickled models are allowed here)", fmt)
            return
        warn_unsafe("Loading", fmt, stacklevel=5)

    def skops_types(self, needed: Iterable[str], declared: Iterable[str] | None) -> list[str]:
        """The types to hand ``skops.io.load``: every type skops does not trust by itself must be
        trusted here and declared by the model; otherwise refuse, naming the types and the fix."""
        needed = sorted(set(needed))
        untrusted = [t for t in needed if t not in self.trusted_types]
        if untrusted:
            raise UntrustedModel(
                f"This scikit-learn model (skops) contains types that are not trusted here: {untrusted}. "
                f"If loading them is safe, {self.types_hint} naming them.",
                reason="skops_type",
            )
        undeclared = [t for t in needed if t not in set(declared or ())]
        if undeclared:
            raise UntrustedModel(
                f"This scikit-learn model (skops) contains types {undeclared} that its MLmodel does not "
                "declare in skops_trusted_types: a model loads only types that both it declares and this "
                "process trusts. Save or log it again (it then declares what it needs).",
                reason="skops_type",
            )
        return needed


def _configured_types() -> frozenset[str]:
    from ..settings import Settings

    return parse_types(Settings.from_env().skops_trusted_types)


def local_policy(extra_types: Iterable[str] | None = None) -> TrustPolicy:
    """The user's own process: pickles warn; skops trusts the built-in list, the setting and ``extra_types``."""
    return TrustPolicy("warn", SKLEARN_TRUSTED_TYPES | _configured_types()).trusting(extra_types)


def serving_policy(allow_pickle: bool | None = None, extra_types: Iterable[str] | None = None) -> TrustPolicy:
    """``modelyard serve``: pickles only when allowed (``None``: ``MODELYARD_SERVE_ALLOW_PICKLE``)."""
    if allow_pickle is None:
        from ..settings import Settings

        allow_pickle = Settings.from_env().serve_allow_pickle
    policy = TrustPolicy("allow" if allow_pickle else "refuse", SKLEARN_TRUSTED_TYPES | _configured_types(),
                         pickle_hint=SERVE_PICKLE_HINT, types_hint=SERVE_TYPES_HINT)
    return policy.trusting(extra_types)
