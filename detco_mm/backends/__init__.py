# Copyright (c) detco_mm contributors. All rights reserved.
"""The faces of DetCo: one adapter per toolbox, the only modules (with ``stack_repairs``)
that import one. ``mmselfsup`` is imported by ``import detco_mm`` (the configs of
``configs/detco/``), ``mmpretrain`` by the configs of its toolbox (``custom_imports``); each
builds its toolbox's classes from the one implementation below it and registers every name
into its registries (docs/design.md). This package itself imports neither.

``init_config_scope`` and ``config_scope`` let a tool that builds from a config without a
``Runner`` (the analysis and benchmark tools) take a config of either face: they do what the
``Runner`` does with the config's ``custom_imports`` and ``default_scope``.
"""
from contextlib import contextmanager

from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope
from mmengine.utils import import_modules_from_strings

from ..evaluation.scope import FALLBACK_SCOPE


def _import_face(cfg: Config) -> str:
    """Import ``cfg``'s ``custom_imports`` (its face); return its toolbox, ``default_scope``."""
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    return cfg.get('default_scope', FALLBACK_SCOPE)


def init_config_scope(cfg: Config) -> str:
    """Make ``cfg``'s toolbox the default scope from now on; returns it."""
    scope = _import_face(cfg)
    init_default_scope(scope)
    return scope


@contextmanager
def config_scope(cfg: Config):
    """Build from ``cfg``'s toolbox inside the ``with`` block (several configs in one tool)."""
    with DefaultScope.overwrite_default_scope(_import_face(cfg)):
        yield
