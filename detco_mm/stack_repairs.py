# Copyright (c) detco_mm contributors. All rights reserved.
"""Repairs of the pinned OpenMMLab stack, in one place, applied once by ``import detco_mm``.

Each repair names the upstream issue it works around and is a no-op where the stack does not
have the bug, so removing one is a matter of deleting its function once upstream is fixed.
"""


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
    repair_mmselfsup_registries()
