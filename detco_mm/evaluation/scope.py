# Copyright (c) detco_mm contributors. All rights reserved.
"""Building from a config at run time, in the config's toolbox, without importing one.

The core of detco_mm imports neither mmselfsup nor mmpretrain. What it builds from a config
(the model of a checkpoint, a dataset, a view pipeline) it builds with mmengine's root
registries (``mmengine.registry.MODELS``, ``DATASETS``, ``TRANSFORMS``), which hand the build
to the registry of the default scope (``Registry.switch_scope_and_registry``): the toolbox
the config names in ``default_scope`` (or a node in ``_scope_``). A ``Runner`` sets that scope
for its hooks; a tool without one sets it with ``detco_mm.backends.init_config_scope`` or
``config_scope``, which also import the config's face (``custom_imports``). ``build`` takes
the scope from the config where the caller has it, so a model or dataset is built in its own
toolbox whatever scope is current; with none given or current, in mmselfsup's, the face that
``import detco_mm`` registers (as configs without ``default_scope`` are mmselfsup's).
"""
from typing import Optional

from mmengine.registry import DefaultScope, Registry

# The scope of a config that names none (``detco_mm.backends`` reads configs with it too).
FALLBACK_SCOPE = 'mmselfsup'


def build(registry: Registry, cfg: dict, scope: Optional[str] = None):
    """``registry.build(cfg)`` in ``scope``, else the current default scope, else mmselfsup's.

    Args:
        registry (Registry): One of mmengine's root registries (``mmengine.registry``).
        cfg (dict): What to build.
        scope (str, optional): The config's ``default_scope`` (or a node's ``_scope_``).
    """
    if scope is None and DefaultScope.get_current_instance() is None:
        scope = FALLBACK_SCOPE
    with DefaultScope.overwrite_default_scope(scope):
        return registry.build(cfg)
