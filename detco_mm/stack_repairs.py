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
    """Load every checkpoint, local or URL, with an explicit ``torch.load(weights_only=True)``.

    mmengine 0.10.7's loaders (``runner.checkpoint.CheckpointLoader``, behind ``--resume``,
    ``load_from`` and every ``init_cfg=dict(type='Pretrained')`` of mmselfsup, mmdet and
    mmcls) leave ``weights_only`` to torch's default: ``load_from_local`` calls ``torch.load``,
    and ``http(s)://``, ``torchvision://``, ``modelzoo://``, ``mmcls://`` and the URLs of
    ``open-mmlab://`` go through ``torch.hub.load_state_dict_from_url``, which does too. The
    environment variable ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` turns that default off: then a
    crafted checkpoint, also one given as a URL, runs its code when loaded. Upstream
    (open-mmlab/mmengine#1655, torch 2.6's default refusing mmengine checkpoints) the open fix,
    open-mmlab/mmengine#1650, goes the other way: an explicit ``weights_only=False``. An
    explicit ``weights_only=True`` holds against both. Checkpoints of this project load this
    way (``WeightsOnlyCheckpointHook``).

    Every load goes through ``detco_ckpt.load``, the project's one reader: local files,
    ``file://`` URLs (which mmengine takes for a missing local file), and ``http(s)://`` URLs
    from torch hub's cache, downloaded there as torch would (mmengine's own download order
    across ranks is kept: its ``load_url`` is replaced, not ``load_from_http``). A refused
    file stops the run with its one-line reason instead of torch's page of advice (which
    suggests ``weights_only=False``); weights holding NaN or Inf are refused there too. Schemes
    that reach another store (``pavi://``, ``s3://``, ``petrel://``) unpickle with torch's
    default in mmengine and are refused: copy such a file to disk first. It maps onto the CPU;
    mmengine copies the tensors to the model's device when it loads them."""
    import os.path as osp

    from mmengine.runner import checkpoint as mm_checkpoint
    from mmengine.runner.checkpoint import CheckpointLoader

    import detco_ckpt

    def load_from_local(filename, map_location=None):
        return detco_ckpt.load(osp.expanduser(filename))

    def load_url(url, model_dir=None, map_location=None, progress=True, **kwargs):
        # mmengine's loaders pass no other argument (check_hash, file_name)
        return detco_ckpt.load(url, model_dir=model_dir, progress=progress)

    load_from_openmmlab_with_torch_load = mm_checkpoint.load_from_openmmlab

    def load_from_openmmlab(filename, map_location=None):
        # Names that map to a file under ~/.cache/mmengine are torch.load-ed by mmengine
        # itself; the URL ones go through load_url. Same lookup as mmengine 0.10.7.
        name = filename.split('://', 1)[1]
        name = mm_checkpoint.get_deprecated_model_names().get(name, name)
        url = mm_checkpoint.get_external_models()[name]
        if url.startswith(('http://', 'https://')):
            return load_from_openmmlab_with_torch_load(filename, map_location)
        return detco_ckpt.load(osp.join(mm_checkpoint._get_mmengine_home(), url))

    def load_from_another_store(filename, map_location=None):
        raise detco_ckpt.CheckpointError(
            f'{filename}: detco_mm reads no checkpoint of this store (mmengine unpickles it '
            f'without weights_only); copy the file to disk and give its path')

    mm_checkpoint.load_url = load_url
    CheckpointLoader.register_scheme(prefixes=('', 'file://'), loader=load_from_local,
                                     force=True)
    CheckpointLoader.register_scheme(prefixes=('open-mmlab://', 'openmmlab://'),
                                     loader=load_from_openmmlab, force=True)
    # mmengine's loaders of these download through load_url, replaced above.
    through_load_url = ('http://', 'https://', 'modelzoo://', 'torchvision://', 'mmcls://')
    repaired = through_load_url + ('', 'file://', 'open-mmlab://', 'openmmlab://')
    # Every other scheme (pavi, ceph, or one a later mmengine adds) loads with torch's default.
    for prefix in [prefix for prefix in CheckpointLoader._schemes if prefix not in repaired]:
        CheckpointLoader.register_scheme(prefixes=prefix, loader=load_from_another_store,
                                         force=True)


def repair_mmengine_last_checkpoint() -> None:
    """Resume from the newest complete checkpoint when ``last_checkpoint`` is damaged.

    mmengine 0.10.7's ``find_latest_checkpoint`` (``--resume`` without a file) returns the text
    of ``WORK_DIR/last_checkpoint`` as it is, so garbage bytes stop the run with a bare
    ``UnicodeDecodeError``, and an empty or cut file with ``FileNotFoundError:  can not be
    found.``, neither naming ``last_checkpoint`` nor using the complete ``epoch_N.pth`` beside
    it (no upstream issue). Here a ``last_checkpoint`` that is not text, is empty or names no
    file is reported by name and the run resumes from the newest (by modification time)
    complete checkpoint of the work dir, saying which; with none, the run stops, since
    starting afresh would silently throw the previous run away. "Complete": a ``*.pth`` zip
    archive with its central directory, which ``torch.save`` writes last (a cut file has none);
    the temporary files of ``detco_ckpt.atomic_file`` do not end in ``.pth``. A URL in
    ``last_checkpoint`` is returned as it is, as upstream does."""
    import glob
    import logging
    import os
    import os.path as osp
    import zipfile

    import mmengine.runner
    from mmengine.logging import print_log
    from mmengine.runner import _flexible_runner, checkpoint, runner

    import detco_ckpt

    def newest_complete_checkpoint(work_dir):
        complete = [path for path in glob.glob(osp.join(glob.escape(work_dir), '*.pth'))
                    if osp.isfile(path) and zipfile.is_zipfile(path)]
        return max(complete, key=lambda path: (os.stat(path).st_mtime, path), default=None)

    def find_latest_checkpoint(path):
        save_file = osp.join(path, 'last_checkpoint')
        if not osp.exists(save_file):
            print_log('Did not find last_checkpoint to be resumed.')
            return None
        try:
            with open(save_file, encoding='utf-8') as f:
                named = f.read().strip()
            problem = ('is empty' if not named else
                       None if '://' in named or osp.isfile(named) else
                       f'names {named[:200]!r}, which is not a file')
        except UnicodeDecodeError:
            problem = 'is not text (damaged)'
        if problem is None:
            return named
        newest = newest_complete_checkpoint(path)
        if newest is None:
            raise detco_ckpt.CheckpointError(
                f'{save_file} {problem}, and {path} holds no complete *.pth checkpoint to '
                f'resume from; give one with --resume FILE, or remove {save_file} to start '
                f'afresh')
        print_log(f'{save_file} {problem}; resuming from {newest}, the newest complete '
                  f'checkpoint in {path}', logger='current', level=logging.WARNING)
        return newest

    # Runner and FlexibleRunner call their modules' names; the strategies mmengine.runner's.
    for module in (checkpoint, runner, _flexible_runner, mmengine.runner):
        module.find_latest_checkpoint = find_latest_checkpoint


def apply_all() -> None:
    """Apply every repair; each is idempotent."""
    repair_reslayerextranorm_double_registration()
    repair_mmselfsup_registries()
    repair_mmengine_cpu_distributed()
    repair_mmengine_weights_only_loads()
    repair_mmengine_last_checkpoint()
