# Copyright (c) detco_mm contributors. All rights reserved.
"""Throughput of pretraining configs: data pipeline, data preprocessor, model step and all of
them, measured alternately; the module of ``throughput.py`` next to it (docs/speed.md).

Every measurement takes a dict ``name -> Candidate`` and alternates between the candidates in
rounds, so machine noise hits all of them; compare the ratios, not the absolute numbers,
across machines.
"""
import copy
import resource
import time
from collections import defaultdict
from typing import Dict, Iterable, List, Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.registry import DATASETS, MODELS
from mmengine.runner import Runner
from mmselfsup.structures import SelfSupDataSample

from detco_mm.contracts import VIEW_INPUTS
from detco_mm.datasets import MULTI_VIEW_TYPES, find_step, transform_type

# Wrappers whose time is their children's (plus copies): the breakdown reports leaf transforms.
_WRAPPER_ATTRS = ('pipelines', 'transforms')
# What ``measure`` times; ``DATA_MODES`` read real images.
MODES = ('data', 'preprocess', 'model', 'e2e')
DATA_MODES = ('data', 'e2e')
# A mocov2_reduction's views: the global ones, first in a batch.
GLOBAL_VIEWS = max(VIEW_INPUTS['g']) + 1


def load_config(path: str) -> Config:
    """A config file, or an installed package's config as ``'mmselfsup::selfsup/...py'``."""
    cfg = get_config(path) if '::' in path else Config.fromfile(path)
    # STACK.md item 4: configs loaded through ``pkg::`` get a ``_scope_`` in collate_fn.
    cfg.train_dataloader.collate_fn = dict(type='default_collate')
    return cfg


def build_dataset(cfg: Config, data_root: str):
    """The config's training dataset, reading ``data_root``."""
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    ds_cfg.data_root = data_root
    return DATASETS.build(ds_cfg)


def _flat_transforms(transforms: list) -> list:
    """Transform configs with the ``Compose`` wrappers opened."""
    flat = []
    for t in transforms:
        flat.extend(_flat_transforms(t.transforms) if t.get('type') == 'Compose' else [t])
    return flat


def view_shapes(cfg: Config) -> List[Tuple[int, int]]:
    """(H, W) of each view the config's train pipeline hands to the data preprocessor.

    Read from its ``MultiView``: per branch the last crop's size, or the ``JigsawPatches``
    mosaic's side (grid x patch_size) where the branch cuts one on the CPU; the gpu-aug
    configs crop the local views only, their preprocessor cuts the mosaic.
    """
    pipeline = cfg.train_dataloader.dataset.pipeline
    index = find_step(pipeline, MULTI_VIEW_TYPES)
    if index is None:
        raise ValueError(f'{cfg.filename}: train_dataloader.dataset.pipeline has no MultiView, '
                         'so no view sizes for the synthetic batches')
    branches = pipeline[index].transforms
    counts = pipeline[index].num_views
    counts = [counts] * len(branches) if isinstance(counts, int) else counts
    shapes = []
    for count, branch in zip(counts, branches):
        shape = None
        for t in _flat_transforms(branch):
            if transform_type(t) == 'JigsawPatches':
                shape = (t.grid * t.patch_size, ) * 2
            elif transform_type(t).endswith('Crop') and 'size' in t:
                shape = (t.size, ) * 2 if isinstance(t.size, int) else tuple(t.size)
        if shape is None:
            raise ValueError(f'{cfg.filename}: a MultiView branch of the train pipeline has no '
                             'crop with a size, so no view size for the synthetic batches')
        shapes.extend([shape] * count)
    return shapes


def mocov2_reduction(cfg: Config) -> Config:
    """The Table 1(a) reduction of a DetCo config: weights (0, 0, 0, 1), g2g only, no local
    views (configs/detco/ablations/detco-hic-w0001_*), i.e. what MoCo v2 computes plus three
    idle heads. Only the model changes: the reduction is for the model-side modes."""
    cfg = copy.deepcopy(cfg)
    cfg.model.neck.with_local = False
    stages = len(cfg.model.head.stages)
    cfg.model.head.update(contrasts=['g2g'], loss_weights=[0.] * (stages - 1) + [1.])
    return cfg


def _set_queue_len(model_cfg: Config, batch: int) -> None:
    """Queues must hold whole batches (MoCo: model.queue_len, DetCo: model.head.queue_len)."""
    owner = model_cfg.head if 'queue_len' in model_cfg.get('head', {}) else model_cfg
    owner.queue_len = max(owner.queue_len // batch, 1) * batch


class Candidate:
    """One pretraining config: its model and, for the data modes, its loader.

    Args:
        cfg (Config): The pretraining config.
        batch (int): Per-step batch.
        device (str): Where the model and the data preprocessor run.
        amp (bool): bf16 autocast for the model step.
        channels_last (bool): channels_last memory format for the model and its inputs.
        data_root (str, optional): ImageNet-layout folder (``train/``, ``meta/train.txt``) of
            real images, for the data modes.
        workers (int): Loader workers.
        views (int, optional): Only the first ``views`` views in the synthetic batches
            (``GLOBAL_VIEWS`` for a ``mocov2_reduction``). None: all of the pipeline's.
    """

    def __init__(self, cfg: Config, batch: int, device: str, amp: bool = False,
                 channels_last: bool = False, data_root: Optional[str] = None,
                 workers: int = 0, views: Optional[int] = None) -> None:
        cfg = copy.deepcopy(cfg)
        loader = cfg.train_dataloader
        loader.dataset.data_root = data_root
        loader.update(batch_size=batch, num_workers=workers, persistent_workers=workers > 0,
                      pin_memory=device.startswith('cuda'))
        _set_queue_len(cfg.model, batch)
        self.cfg, self.batch, self.device = cfg, batch, torch.device(device)
        self.amp, self.channels_last = amp, channels_last
        self.loader_cfg, self.has_data = loader, data_root is not None
        self.shapes = view_shapes(cfg)[:views]
        self._loader = None
        self.model = MODELS.build(cfg.model).to(self.device).train()
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.optim = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        self.peak_mem = 0

    def batches(self) -> Iterable[dict]:
        """An endless stream of collated batches from the config's loader."""
        if not self.has_data:
            raise ValueError('the data modes need a data_root of real images')
        if self._loader is None:
            self._loader = Runner.build_dataloader(self.loader_cfg, seed=0)
        while True:
            yield from self._loader

    def synthetic_batch(self) -> dict:
        """Random uint8 views of the pipeline's shapes, already on the device."""
        inputs = [torch.randint(0, 256, (self.batch, 3, *shape), dtype=torch.uint8,
                                device=self.device) for shape in self.shapes]
        return dict(inputs=inputs, data_samples=[SelfSupDataSample() for _ in range(self.batch)])

    def preprocess(self, data: dict) -> tuple:
        """The data preprocessor's views and samples (mmselfsup's returns a tuple,
        mmpretrain's a dict)."""
        out = self.model.data_preprocessor(data, True)
        inputs, samples = (out['inputs'], out['data_samples']) if isinstance(out, dict) else out
        if self.channels_last:
            inputs = [x.contiguous(memory_format=torch.channels_last) for x in inputs]
        return inputs, samples

    def train_step(self, data: dict) -> None:
        """What ``model.train_step`` does (preprocess, loss, backward, SGD step), with autocast."""
        inputs, samples = self.preprocess(data)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            losses = self.model.loss(inputs, samples)
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        self.optim.zero_grad(set_to_none=True)
        loss.backward()
        self.optim.step()


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def alternate(candidates: Dict[str, Candidate], work: Dict[str, callable], rounds: int,
              iters: int, warmup: int) -> Dict[str, float]:
    """Images/s of ``work[name]()`` (one batch each call), alternating between candidates.

    Each round runs, per candidate, ``warmup`` untimed calls (e.g. batches prefetched while the
    loader waited) then ``iters`` timed ones. Also records each candidate's peak CUDA memory.
    """
    elapsed = defaultdict(float)
    for _ in range(rounds):
        for name, cand in candidates.items():
            for _ in range(warmup):
                work[name]()
            _sync(cand.device)
            if cand.device.type == 'cuda':
                torch.cuda.reset_peak_memory_stats(cand.device)
            t0 = time.perf_counter()
            for _ in range(iters):
                work[name]()
            _sync(cand.device)
            elapsed[name] += time.perf_counter() - t0
            if cand.device.type == 'cuda':
                cand.peak_mem = max(cand.peak_mem, torch.cuda.max_memory_allocated(cand.device))
    return {n: rounds * iters * candidates[n].batch / t for n, t in elapsed.items()}


def measure(candidates: Dict[str, Candidate], modes: List[str], rounds: int = 3, iters: int = 5,
            warmup: Optional[int] = None) -> Dict[str, Dict[str, float]]:
    """Images/s per mode and candidate.

    Modes: ``data`` (loader + data preprocessor on the device: everything that feeds the
    model), ``preprocess`` (the data preprocessor alone, on synthetic uint8 views already on
    the device: the augmentation of the gpu-aug configs, the normalisation of the others),
    ``model`` (preprocessor + training step on those views), ``e2e`` (loader + preprocessor +
    step, a real training loop).

    Args:
        warmup (int, optional): Untimed batches per candidate and round in the data modes.
            Defaults to the loader's prefetch depth (2 x workers) + 1; the synthetic modes
            warm up on 1.
    """
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise ValueError(f"modes {unknown} are not among {', '.join(MODES)}")
    out = {}
    streams = ({n: c.batches() for n, c in candidates.items()}
               if any(m in DATA_MODES for m in modes) else {})
    synthetic = {n: c.synthetic_batch() for n, c in candidates.items()}
    if warmup is None:
        warmup = 2 * max(c.loader_cfg.num_workers for c in candidates.values()) + 1
    for mode in modes:
        if mode == 'data':
            work = {n: (lambda c=c, s=streams[n]: c.preprocess(next(s)))
                    for n, c in candidates.items()}
        elif mode == 'preprocess':
            work = {n: (lambda c=c, b=synthetic[n]: c.preprocess(b))
                    for n, c in candidates.items()}
        elif mode == 'model':
            work = {n: (lambda c=c, b=synthetic[n]: c.train_step(b))
                    for n, c in candidates.items()}
        else:
            work = {n: (lambda c=c, s=streams[n]: c.train_step(next(s)))
                    for n, c in candidates.items()}
        out[mode] = alternate(candidates, work, rounds, iters,
                              warmup if mode in DATA_MODES else 1)
    return out


def _leaf_transforms(t) -> List:
    """The non-wrapper transforms inside a (nested) mmcv/mmengine pipeline."""
    for attr in _WRAPPER_ATTRS:
        sub = getattr(t, attr, None)
        if sub is not None:
            sub = sub if isinstance(sub, (list, tuple)) else [sub]
            return [leaf for s in dict.fromkeys(sub) for leaf in _leaf_transforms(s)]
    return [t]


def pipeline_breakdown(datasets: Dict[str, object], num: int,
                       rounds: int = 1) -> Dict[str, Dict[str, float]]:
    """Per-sample CPU milliseconds of each dataset's pipeline, per transform, in this process.

    Samples 0..num-1 are loaded ``rounds`` times, the datasets interleaved sample by sample,
    which of them goes first rotating (the first one reads the file from disk). Each leaf
    transform's time is exclusive (wrappers are not counted twice); ``other`` is the rest
    (dataset indexing, ``MultiView``'s copies, wrapper overhead) and ``total`` the sum.
    """
    timers = {n: defaultdict(float) for n in datasets}
    for name, ds in datasets.items():
        for leaf in dict.fromkeys(_leaf_transforms(ds.pipeline)):
            leaf.transform = _timed(leaf.transform, timers[name], type(leaf).__name__)
    names = list(datasets)
    for _ in range(rounds):
        for i in range(num):
            for k in range(len(names)):
                name = names[(i + k) % len(names)]
                t0 = time.perf_counter()
                datasets[name][i % len(datasets[name])]
                timers[name]['total'] += time.perf_counter() - t0
    out = {}
    for name, t in timers.items():
        ms = {k: 1e3 * v / (num * rounds) for k, v in t.items()}
        ms['other'] = ms['total'] - sum(v for k, v in ms.items() if k != 'total')
        out[name] = ms
    return out


def _timed(fn, timer: dict, key: str):
    def wrapper(results):
        t0 = time.perf_counter()
        out = fn(results)
        timer[key] += time.perf_counter() - t0
        return out
    return wrapper


def max_rss_mib() -> float:
    """This process's peak resident memory (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
