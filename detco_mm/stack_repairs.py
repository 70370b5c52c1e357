# Copyright (c) detco_mm contributors. All rights reserved.
"""Repairs of the pinned OpenMMLab stack, in one place, applied once by ``import detco_mm``.

Each repair names the upstream issue it works around and is a no-op where the stack does not
have the bug, so removing one is a matter of deleting its function once upstream is fixed.
"""
import importlib.util
import sys


def repair_reslayerextranorm_double_registration() -> None:
    """mmselfsup 1.0.0 and mmpretrain 1.x both register a ``ResLayerExtraNorm`` into mmdet's
    MODELS, and mmdet 3.3.0 imports mmpretrain whenever it is installed (mmdet/models/reid),
    so with the three installed ``import mmselfsup.models`` stops with ``KeyError:
    'ResLayerExtraNorm is already registered in model'``. Upstream treats a name registered
    twice into mmdet's registry as the user's problem (open-mmlab/mmdetection#11399, open) and
    mmselfsup is archived, so no fix will come. The two classes build the same layers (res5 +
    one norm, same parameter names), so mmselfsup's simply takes the name back: mmdet configs
    then get the class they get without mmpretrain. Must run before ``mmselfsup.models`` is
    imported: afterwards there is nothing left to repair, or the import has already failed."""
    if 'mmselfsup.models' in sys.modules or importlib.util.find_spec('mmpretrain') is None:
        return
    if importlib.util.find_spec('mmdet') is None:
        return
    import mmdet.models  # noqa: F401  (imports mmpretrain.models: registers its class)
    from mmdet.registry import MODELS
    MODELS._module_dict.pop('ResLayerExtraNorm', None)
    import mmselfsup.models  # noqa: F401  (registers mmselfsup's ResLayerExtraNorm)


def repair_mmselfsup_registries() -> None:
    """mmselfsup 1.0.0 (the PyPI wheel) names a module ``mmselfsup.engine.runner`` that it
    does not ship as the location of these registries, so ``Runner.build_train_loop`` fails
    with ModuleNotFoundError (open-mmlab/mmselfsup#745, fixed only on its git main). Dropping
    the location lets the lookup fall back to the parent mmengine registries, as upstream
    does."""
    from mmselfsup.registry import LOOPS, RUNNER_CONSTRUCTORS, RUNNERS
    for registry in (RUNNERS, RUNNER_CONSTRUCTORS, LOOPS):
        locations = getattr(registry, '_locations', None)
        if locations and 'mmselfsup.engine.runner' in locations:
            locations.remove('mmselfsup.engine.runner')


def apply_all() -> None:
    """Apply every repair; each is idempotent."""
    repair_reslayerextranorm_double_registration()
    repair_mmselfsup_registries()
