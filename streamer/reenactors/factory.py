"""Reenactors by name: ``create_reenactor("geometric")``; trained generators register themselves here.

A builder takes keyword options and returns a ready :class:`~streamer.reenactors.base.Reenactor`.
Unknown names and unknown options are an ``InputError`` (one line, exit 2) that lists what is known.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from streamer.errors import InputError
from streamer.reenactors.base import Reenactor
from streamer.retarget import MotionMode

ReenactorBuilder = Callable[..., Reenactor]

_BUILDERS: dict[str, ReenactorBuilder] = {}


def register_reenactor(name: str, builder: ReenactorBuilder) -> None:
    """Make ``create_reenactor(name, **options)`` call ``builder(**options)``; a name is registered once."""
    if name in _BUILDERS and _BUILDERS[name] is not builder:
        raise ValueError(f"reenactor {name!r} is already registered")
    _BUILDERS[name] = builder


def reenactor_names() -> tuple[str, ...]:
    """The registered names, sorted."""
    return tuple(sorted(_BUILDERS))


def create_reenactor(name: str, **options) -> Reenactor:
    """The reenactor called ``name``, built with ``options`` (see each builder for the ones it takes)."""
    builder = _BUILDERS.get(name)
    if builder is None:
        raise InputError(f"unknown reenactor {name!r}; known: {', '.join(reenactor_names())}")
    params = inspect.signature(builder).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    unknown = sorted(set(options) - set(params)) if not takes_any else []
    if unknown:
        raise InputError(
            f"reenactor {name!r} does not take option(s) {', '.join(unknown)}; it takes {', '.join(params) or 'none'}"
        )
    return builder(**options)


def _geometric(
    crop_size: int = 256, motion: MotionMode = "relative", backend: str = "opencv", threads: int = 1
) -> Reenactor:
    """The landmark-driven warp (``streamer.reenactors.geometric``) with the analytic retargeter."""
    from streamer.backends.warp import create_remap_backend
    from streamer.reenactors.geometric import GeometricConfig, GeometricReenactor

    return GeometricReenactor(
        GeometricConfig(crop_size=crop_size, motion=motion), create_remap_backend(backend, threads)
    )


register_reenactor("geometric", _geometric)


def _rfg_builder(integrator: str) -> ReenactorBuilder:
    """A builder of the trained RFG over the geometric warp (``streamer.reenactors.rfg``) with ``integrator``."""

    def build(
        weights: str | None = None,
        crop_size: int = 256,
        motion: MotionMode = "relative",
        backend: str = "onnxruntime",
        threads: int = 1,
    ) -> Reenactor:
        from streamer.reenactors.rfg import RFGReenactor

        geometric = _geometric(crop_size=crop_size, motion=motion, threads=threads)
        return RFGReenactor(weights, integrator, backend, threads, geometric)  # type: ignore[arg-type]

    build.__doc__ = f"RFG, integrator {integrator!r}; ``weights`` None: the shipped file."
    return build


register_reenactor("rfg-global", _rfg_builder("global"))
register_reenactor("rfg-global-local", _rfg_builder("global-local"))
