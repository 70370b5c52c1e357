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


def repair_mmengine_cpu_distributed() -> None:
    """Let ``torchrun`` / ``--launcher pytorch`` run on machines without a GPU.

    mmengine 0.10.7 assumes a GPU per process in two places (both from
    open-mmlab/mmengine#973, "Distributed use correct local rank"; no upstream issue for CPU):
    ``dist.utils._init_dist_pytorch`` calls ``torch.cuda.set_device(LOCAL_RANK)`` ->
    "Found no NVIDIA driver on your system", and ``Runner.wrap_model`` passes
    ``device_ids=[LOCAL_RANK]`` to ``MMDistributedDataParallel``, which torch refuses for a
    CPU module. Without CUDA (and without the MLU/NPU/MUSA branches mmengine has), this skips
    ``set_device``, replaces the configs' ``nccl`` backend (GPU only) by ``gloo`` with a
    warning, and drops ``device_ids`` for CPU modules, as torch's DDP documents. With a GPU
    nothing changes."""
    import warnings

    import torch
    from mmengine.device import is_mlu_available, is_musa_available, is_npu_available
    from mmengine.dist import utils as dist_utils
    from mmengine.model import MMDistributedDataParallel

    init_dist_pytorch = dist_utils._init_dist_pytorch
    if getattr(init_dist_pytorch, 'detco_repaired', False):
        return

    def cpu_only() -> bool:
        return not (torch.cuda.is_available() or is_mlu_available() or is_npu_available()
                    or is_musa_available())

    def _init_dist_pytorch(backend, init_backend='torch', **kwargs) -> None:
        if not cpu_only() or init_backend != 'torch':
            return init_dist_pytorch(backend, init_backend=init_backend, **kwargs)
        if backend == 'nccl':
            warnings.warn('detco_mm: no GPU, so env_cfg.dist_cfg.backend=nccl is replaced by '
                          'gloo (set env_cfg.dist_cfg.backend=gloo to silence this)')
            backend = 'gloo'
        torch.distributed.init_process_group(backend=backend, **kwargs)

    _init_dist_pytorch.detco_repaired = True
    dist_utils._init_dist_pytorch = _init_dist_pytorch

    ddp_init = MMDistributedDataParallel.__init__

    def __init__(self, module, *args, **kwargs) -> None:
        if (kwargs.get('device_ids') is not None and cpu_only()
                and all(p.device.type == 'cpu' for p in module.parameters())):
            kwargs['device_ids'] = None
        ddp_init(self, module, *args, **kwargs)

    MMDistributedDataParallel.__init__ = __init__


def repair_mmengine_weights_only_loads() -> None:
    """Load local checkpoints with an explicit ``torch.load(weights_only=True)``.

    mmengine 0.10.7's loader of local files (``runner.checkpoint.load_from_local``, behind
    ``--resume``, ``load_from`` and every ``init_cfg=dict(type='Pretrained')`` of mmselfsup,
    mmdet and mmcls) leaves ``weights_only`` to torch's default, which the environment
    variable ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` turns off: then a crafted checkpoint runs
    its code when loaded. Upstream (open-mmlab/mmengine#1655, torch 2.6's default refusing
    mmengine checkpoints) the open fix, open-mmlab/mmengine#1650, goes the other way: an
    explicit ``weights_only=False``. An explicit ``weights_only=True`` holds against both.
    Checkpoints of this project load this way (``WeightsOnlyCheckpointHook``). The load goes
    through ``detco_ckpt.load``, the project's one reader, so a refused file stops the run with
    its one-line reason instead of torch's page of advice (which suggests
    ``weights_only=False``). It maps onto the CPU; mmengine copies the tensors to the model's
    device when it loads them."""
    import os.path as osp

    import detco_ckpt
    from mmengine.runner.checkpoint import CheckpointLoader

    def load_from_local(filename, map_location):
        filename = osp.expanduser(filename)
        if not osp.isfile(filename):
            raise FileNotFoundError(f'{filename} can not be found.')
        return detco_ckpt.load(filename)

    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)


def apply_all() -> None:
    """Apply every repair; each is idempotent."""
    repair_reslayerextranorm_double_registration()
    repair_mmselfsup_registries()
    repair_mmengine_cpu_distributed()
    repair_mmengine_weights_only_loads()
