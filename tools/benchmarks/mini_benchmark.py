# Copyright (c) detco_mm contributors. All rights reserved.
"""Table 1 and Table 2 of DetCo in miniature: MoCo v2 vs HIC-only vs DetCo vs random init.

For every seed and method (configs/detco/small/: the MoCo v2 reduction of Table 1(a), HIC
only, DetCo, all ResNet-18 with the same budget in epochs), this runs the commands a user
would, then reads the frozen per-stage features out (``detco_mm.evaluation.readouts``):

1. ``mim train mmselfsup`` on the unlabelled pool (``--pretrain-data``, ImageNet layout), with
   ``ViewRetrievalHook`` logging same-image view retrieval on the held-out images before the
   first step and every ``curve_interval`` epochs (the curves of the figure); ``--face
   mmpretrain``: ``mim train mmpretrain`` on the twins of configs/detco_mmpretrain/small/;
2. readouts of the last checkpoint, each with its chance level: same-image view retrieval on
   ``--probe-data``'s val split (two views per image drawn from seed 0: every run sees the
   same views), class kNN (leave-one-out) on its train split and a linear probe train -> val,
   class kNN on the pool's own labels, and the probe's kNN with the checkpoint's running BN
   statistics (docs/evaluation.md, BN statistics of frozen features); the 12 loss terms at the
   end against their chance level ln(queue + 1); the compute (steps, images, wall time);
3. with ``--det-data``: ``tools/model_converters/detco_to_backbone.py``, then ``mim train
   mmdet`` with configs/detco/small/faster-rcnn_r18_fpn_small.py (warm-up over the first
   quarter, then the lr, divided by 10 at 3/4); bbox AP on the test split.

Random init is the floor: the same readouts of a backbone initialised as pretraining starts
(``init_weights()``, same seed), and the same detection fine-tune from it. Each run's config
and outputs are under ``WORK_DIR/{method}/seed{S}/`` (one ``--face`` per work dir); a step
whose outputs exist is skipped, so an interrupted run continues. ``results.json``,
``results.md`` (mean +/- sample std over seeds, and per-seed paired differences with 95 %
t-intervals) and ``results.png`` (loss over chance and retrieval vs iteration) are rewritten
from every run's ``result.json``.

Threads: every run is one process with one torch thread (OMP_NUM_THREADS=1, set by this tool
for itself and for the trainings it starts); ``--jobs`` runs (seed, method) tasks in that many
processes at once (default: one per CPU core). On a loaded 2-core machine a ResNet-18 step at
batch 32 took 8x longer with 2 threads than with 1.

Sizes (``--size``; ``--epochs``, ``--queue``, ``--crop``, ``--pool``, ``--det-iters``,
``--det-scale``, ``--seeds`` override; ``--crop`` scales the local crop, jigsaw and readout
images with it). Queues stay under half of the images of one epoch (``QueueBatchCheckHook``):
    tiny:  32 px crops, 1 epoch, batch 4, queue 4: a CI smoke test on
           tools/data/make_synthetic_images.py.
    small: 32 px crops, batch 32, 4 epochs (124 steps on 1000 images), queue 256, seeds
           0 1 2: ~1 h on 2 shared CPU cores with imagenet_det_1k and imagenette_96 (a DetCo
           step costs ~4x a MoCo v2 one: its 9 local patches per image each cost about as
           much as a 32 px image in res4-res5). Detection only with --det-data (300 steps at
           320 px: ~7 s per step per core, 35 min per run).
    medium: 64 px crops, 50 epochs, queue 256, 300 detection steps at 320 px: a many-core CPU.
    gpu:   64 px crops, batch 128, 100 epochs (700 steps), queue 256, 4 runs at once on one
           GPU with 3 loader processes each (tools/benchmarks/gpu_evidence.sh; 16 cores).

Example (docs/evidence.md):
    python tools/benchmarks/mini_benchmark.py --size small \
        --pretrain-data data/imagenet_det_1k --probe-data data/imagenette_96 \
        --work-dir work_dirs/evidence
"""
import argparse
import glob
import importlib.util
import json
import math
import os
import os.path as osp
import shutil
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from _bench import mean_std_cell, mim_train, t_interval

from detco_mm.contracts import STAGES
from detco_mm.datasets import MULTI_VIEW_TYPES, find_step

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SMALL = osp.join(ROOT, 'configs', 'detco', 'small')
# The small config of each method: configs/detco/small/NAME.py, trained by `mim train
# mmselfsup`, or its twin configs/detco_mmpretrain/small/NAME_mmpretrain.py (`--face
# mmpretrain`, `mim train mmpretrain`), which changes only the toolbox's names.
METHODS = {
    'mocov2': 'mocov2_resnet18_1xb32-coslr-10e_small',
    'hic': 'detco-hic_resnet18_1xb32-coslr-10e_small',
    'detco': 'detco_resnet18_1xb32-coslr-10e_small',
}
FACES = ('mmselfsup', 'mmpretrain')
RANDOM = 'random'
ORDER = ('detco', 'hic', 'mocov2', RANDOM)
DET_CONFIG = osp.join(SMALL, 'faster-rcnn_r18_fpn_small.py')
SIZES = {
    'tiny': dict(epochs=1, batch=4, queue=4, crop=32, seeds=[0], curve_interval=1,
                 det_iters=4, det_scale=64, jobs=1),
    'small': dict(epochs=4, batch=32, queue=256, crop=32, seeds=[0, 1, 2], curve_interval=2,
                  det_iters=300, det_scale=320),
    'medium': dict(epochs=50, batch=32, queue=256, crop=64, seeds=[0, 1, 2],
                   curve_interval=10, det_iters=300, det_scale=320),
    'gpu': dict(epochs=100, batch=128, queue=256, crop=64, seeds=[0, 1, 2],
                curve_interval=20, det_iters=1000, det_scale=512, jobs=4, workers=3),
}
LABELS = {'mocov2': 'MoCo v2 (Table 1(a) reduction)', 'hic': 'HIC only (Table 1(b))',
          'detco': 'DetCo (Table 1(c))', RANDOM: 'random init (floor)'}
READOUTS = {
    'retrieval': 'same-image view retrieval, held-out probe val images (top-1 %)',
    'knn_probe': 'class kNN, probe train split, leave-one-out (top-1 %)',
    'linear_probe': 'linear probe, probe train -> val (top-1 %)',
    'knn_pool': 'class kNN, pretraining pool\'s labels, leave-one-out (top-1 %)',
    'knn_probe_running_bn': 'class kNN as above on the probe, with the checkpoint\'s running BN '
                            'statistics instead of re-estimated ones (top-1 %)',
}
PAGE_BEGIN, PAGE_END = '<!-- results: begin -->', '<!-- results: end -->'
PAIRS = [('detco', RANDOM), ('hic', RANDOM), ('mocov2', RANDOM), ('detco', 'mocov2'),
         ('detco', 'hic'), ('hic', 'mocov2')]


def run(cmd, log):
    """Run ``cmd`` from the repository root, its output appended to ``log``."""
    with open(log, 'a') as file:
        file.write(' '.join(cmd) + '\n')
        file.flush()
        proc = subprocess.run(cmd, cwd=ROOT, stdout=file, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise SystemExit(f'failed ({proc.returncode}): {" ".join(cmd)}; see {log}')


def method_config(face, method):
    """The small pretraining config of ``method`` for the toolbox ``face``."""
    if face == 'mmselfsup':
        return osp.join(SMALL, f'{METHODS[method]}.py')
    return osp.join(ROOT, 'configs', 'detco_mmpretrain', 'small',
                    f'{METHODS[method]}_mmpretrain.py')


def setting(args, size, key):
    """A command-line override, else the size's value (None: the size does not set it)."""
    value = getattr(args, key, None)
    return size.get(key) if value is None else value


def step(steps, types, where):
    """The first of ``steps`` (transform configs) whose type (without a scope) is one of
    ``types``; ``where`` names the list in the error."""
    index = find_step(steps, types)
    if index is not None:
        return steps[index]
    raise SystemExit(f'{where}: no {" or ".join(types)} step; mini_benchmark.py sets the crop '
                     f'sizes of the views there')


def view_groups(cfg):
    """The (global, local) transforms of the train pipeline's multi-view step: the local
    group is the one that cuts ``JigsawPatches``; HIC only and MoCo v2 have no local group."""
    where = f'{cfg.filename}: train_dataloader.dataset.pipeline'
    groups = step(cfg.train_dataloader.dataset.pipeline, MULTI_VIEW_TYPES, where)['transforms']
    local = [g for g in groups if find_step(g, ('JigsawPatches', )) is not None]
    global_ = [g for g in groups if g not in local]
    if len(global_) != 1 or len(local) > 1:
        raise SystemExit(f'{where}: {len(global_)} global and {len(local)} local view groups '
                         f'in the multi-view step; mini_benchmark.py sets one of each')
    return global_[0], (local[0] if local else None)


def set_crops(cfg, crop):
    """Global crops of ``crop`` px, local crops of 1.5x cut into 3x3 cells with patches of
    3/4 of a cell (the paper's 224 / 255 / 85 / 64 proportions)."""
    global_view, local_view = view_groups(cfg)
    where = f'{cfg.filename}: a view group of train_dataloader.dataset.pipeline'
    step(global_view, ('RandomResizedCrop',), where)['size'] = crop
    if local_view is not None:
        step(local_view, ('RandomResizedCrop',), where)['size'] = crop * 3 // 2
        step(local_view, ('JigsawPatches',), where).update(cell_size=crop // 2,
                                                           patch_size=crop * 3 // 8)


def retrieval_dataset(args, cfg):
    """The probe's val images, two views each of the pretraining's global view, built with
    mmselfsup's transforms on either face (as the pretraining pipeline)."""
    global_view, _ = view_groups(cfg)
    return dict(type='mmcls.ImageNet', data_root=osp.abspath(args.probe_data) + '/',
                ann_file=args.probe_val_ann, data_prefix=args.probe_prefix, pipeline=[
                    dict(type='LoadImageFromFile'),
                    dict(type='MultiView', num_views=2, transforms=[global_view]),
                    dict(type='PackSelfSupInputs', meta_keys=['img_path'])],
                _scope_='mmselfsup')


def pretrain_config(args, size, method, seed, path):
    """The method's small config of ``--face`` with this run's data, budget, seed and
    retrieval hook."""
    from mmengine.config import Config
    cfg = Config.fromfile(method_config(args.face, method))
    epochs, batch = setting(args, size, 'epochs'), size['batch']
    workers = args.workers if args.workers is not None else size.get('workers', 0)
    cfg.randomness = dict(seed=seed)
    cfg.model.head.queue_len = setting(args, size, 'queue')
    cfg.optim_wrapper.optimizer.lr = 0.06 * batch / 256  # [P 6.5] scaled to the batch
    cfg.train_dataloader.update(batch_size=batch, num_workers=workers,
                                persistent_workers=workers > 0)
    cfg.train_dataloader.dataset.data_root = osp.abspath(args.pretrain_data) + '/'
    pool = setting(args, size, 'pool')
    if pool:
        cfg.train_dataloader.dataset.indices = pool
    cfg.train_cfg.max_epochs = epochs
    cfg.param_scheduler[0].update(T_max=epochs, end=epochs)
    set_crops(cfg, setting(args, size, 'crop'))
    # The readouts of the final checkpoint are this tool's (readouts()), not a kNN hook's.
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h['type'] != 'PerStageKNNHook'] + [
        dict(type='ViewRetrievalHook', dataset=retrieval_dataset(args, cfg), seed=0,
             interval=min(epochs, size['curve_interval']))]
    cfg.dump(path)


def det_config(args, size, seed, backbone, path):
    """The small detection config on ``--det-data`` from ``backbone`` (None: random init)."""
    from mmengine.config import Config
    cfg = Config.fromfile(DET_CONFIG)
    iters, scale = setting(args, size, 'det_iters'), setting(args, size, 'det_scale')
    data = osp.abspath(args.det_data) + '/'
    with open(osp.join(data, args.det_train_ann)) as file:
        classes = tuple(c['name'] for c in sorted(json.load(file)['categories'],
                                                  key=lambda c: c['id']))
    cfg.randomness = dict(seed=seed)
    cfg.model.roi_head.bbox_head.num_classes = len(classes)
    # None: mmdet's ResNet default init (Kaiming convolutions), as pretraining starts from.
    cfg.model.backbone.init_cfg = (dict(type='Pretrained', checkpoint=backbone)
                                   if backbone else None)
    cfg.train_cfg.update(max_iters=iters, val_interval=iters)
    # Warm up over the first quarter, hold the lr, divide it by 10 at 3/4: a warm-up longer
    # than the run (min(50, iters) before) never reached the lr. mmengine's LinearLR reaches
    # it at step end - 1 (and never with end=1).
    cfg.param_scheduler[0].end = max(2, iters // 4)
    cfg.param_scheduler[1].update(end=iters, milestones=[max(1, iters * 3 // 4)])
    cfg.default_hooks.checkpoint.interval = iters
    workers = args.workers if args.workers is not None else size.get('workers', 0)
    for loader, ann, img in ((cfg.train_dataloader, args.det_train_ann, args.det_train_img),
                             (cfg.val_dataloader, args.det_val_ann, args.det_val_img)):
        loader.update(num_workers=workers, persistent_workers=workers > 0)
        loader.dataset.update(data_root=data, ann_file=ann, data_prefix=dict(img=img),
                              metainfo=dict(classes=classes))
        for t in loader.dataset.pipeline:
            if t['type'] == 'Resize':
                t['scale'] = (scale, scale)
    cfg.test_dataloader = cfg.val_dataloader
    cfg.val_evaluator.ann_file = cfg.test_evaluator.ann_file = data + args.det_val_ann
    cfg.dump(path)


def class_loader(root, ann_file, prefix, crop):
    """Whole images at the global crop's scale (short side crop / 0.875, centre crop), with
    mmselfsup's transforms on either face."""
    from detco_mm.evaluation import build_knn_loader
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='mmcls.ResizeEdge', scale=crop * 8 // 7, edge='short',
                     backend='pillow'),
                dict(type='mmcls.CenterCrop', crop_size=crop),
                dict(type='PackSelfSupInputs', meta_keys=['img_path'])]
    return build_knn_loader(dict(batch_size=64, num_workers=0, dataset=dict(
        type='mmcls.ImageNet', data_root=osp.abspath(root) + '/', ann_file=ann_file,
        data_prefix=prefix, pipeline=pipeline, _scope_='mmselfsup')))


def query_backbone(cfg, checkpoint):
    """The query backbone of a checkpoint of either face (None: random init) and the model's
    data preprocessor, built by the config's toolbox: mmpretrain's ResNet numbers its outputs
    from res2, mmselfsup's from the stem. The datasets of the readouts name their scope."""
    from detco_mm.backends import init_config_scope
    from detco_mm.evaluation import load_query_backbone
    init_config_scope(cfg)
    return load_query_backbone(cfg, checkpoint)


def readouts(args, size, config, seed, checkpoint):
    """Every readout of a checkpoint's query backbone (None: random init), in-process, with
    its chance level and number of images."""
    import torch
    from mmengine.config import Config
    from mmengine.runner import set_random_seed
    from mmselfsup.registry import DATASETS

    import detco_mm  # noqa: F401  registers DetCo and the hooks
    from detco_mm.evaluation import (
        class_chance,
        class_readouts,
        fixed_views,
        per_stage_knn,
        per_stage_retrieval,
    )
    torch.set_num_threads(1)
    set_random_seed(seed)
    cfg = Config.fromfile(config)
    backbone, data_preprocessor = query_backbone(cfg, checkpoint)
    # the data preprocessor moves each batch to its device; features come back to the CPU
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    backbone, data_preprocessor = backbone.to(device), data_preprocessor.to(device)
    stages = cfg.model.head.stages
    crop = setting(args, size, 'crop')
    hook = next(h for h in cfg.custom_hooks if h['type'] == 'ViewRetrievalHook')
    views = fixed_views(DATASETS.build(hook['dataset']), hook['seed'])
    train, train_labels = class_loader(args.probe_data, args.probe_train_ann,
                                       args.probe_prefix, crop)
    val, val_labels = class_loader(args.probe_data, args.probe_val_ann, args.probe_prefix,
                                   crop)
    pool, pool_labels = class_loader(args.pretrain_data, 'meta/train.txt', 'train/', crop)
    probe = class_readouts(backbone, data_preprocessor, stages, train, train_labels, val,
                           val_labels)
    values = dict(
        retrieval=per_stage_retrieval(backbone, data_preprocessor, stages, views),
        knn_probe=probe['knn'], linear_probe=probe['linear'],
        knn_pool=class_readouts(backbone, data_preprocessor, stages, pool,
                                pool_labels)['knn'],
        knn_probe_running_bn=per_stage_knn(backbone, data_preprocessor, stages, train,
                                           train_labels, bn_stats='running'))
    out = {name: {k.replace('_top1', ''): v for k, v in top1.items()}
           for name, top1 in values.items()}
    out['n'] = dict(retrieval=len(views), knn_probe=len(train_labels),
                    linear_probe=len(val_labels), knn_pool=len(pool_labels),
                    knn_probe_running_bn=len(train_labels))
    out['chance'] = dict(retrieval=100. / len(views), knn_probe=class_chance(train_labels),
                         linear_probe=class_chance(val_labels),
                         knn_pool=class_chance(pool_labels),
                         knn_probe_running_bn=class_chance(train_labels))
    return out


def training_summary(pretrain, queue_len, batch, seconds):
    """The 12 (or 4) unweighted loss terms at the end against ln(K + 1), the curves of the
    figure, and the compute of a pretraining run."""
    from detco_mm.engine.log_processor import TERM_KEY
    from detco_mm.visualization import load_curves
    curves = load_curves(pretrain)
    chance = math.log(queue_len + 1)
    terms = {k: float(v[-1]) for k, (_, v) in curves.items()
             if TERM_KEY.match(k) and k.startswith('nce_')}
    # the logger skips the last, partial window of an epoch; ViewRetrievalHook logs at the end
    iters = max(int(x[-1]) for x, _ in curves.values())
    keep = ['chance/nce_ratio'] + [f'retrieval/{s}_top1' for s in STAGES]
    return dict(
        loss=dict(chance=chance, terms=terms, below=sum(v < chance for v in terms.values()),
                  ratio=statistics.mean(terms.values()) / chance),
        compute=dict(iters=iters, images=iters * batch, seconds=seconds),
        curves={k: [curves[k][0].tolist(), curves[k][1].tolist()] for k in keep if k in curves})


def run_one(args, size, method, seed):
    """Pretrain (unless random), read out, detection fine-tune: WORK/method/seedS/."""
    work = osp.join(args.work_dir, method, f'seed{seed}')
    os.makedirs(work, exist_ok=True)
    log = osp.join(work, 'commands.log')
    saved = osp.join(work, 'result.json')
    entry = json.load(open(saved)) if osp.isfile(saved) else dict()
    # written before the first step, so that no other face reuses this run's outputs; the
    # runs of before --face are mmselfsup's
    face = entry.get('face', 'mmselfsup') if entry else args.face
    if face != args.face:
        raise SystemExit(f'{work}: trained with --face {face}, not --face {args.face}; give '
                         f'each face its own --work-dir')
    entry['face'] = args.face
    save(saved, entry)
    config = osp.join(work, 'pretrain_config.py')
    pretrain_config(args, size, method if method in METHODS else 'detco', seed, config)
    checkpoint = backbone = None
    if method != RANDOM:
        pretrain = osp.join(work, 'pretrain')
        checkpoint = osp.join(pretrain, f'epoch_{setting(args, size, "epochs")}.pth')
        if not osp.isfile(checkpoint):
            start = time.time()
            run(mim_train(args.face, config, '--work-dir', pretrain), log)
            entry['pretrain_seconds'] = time.time() - start
        entry.update(training_summary(pretrain, setting(args, size, 'queue'), size['batch'],
                                      entry.get('pretrain_seconds')))
        backbone = osp.join(work, 'backbone.pth')
        if args.det_data and not osp.isfile(backbone):
            run([sys.executable, osp.join(ROOT, 'tools', 'model_converters',
                                          'detco_to_backbone.py'), checkpoint, backbone], log)
    if 'readouts' not in entry:
        entry['readouts'] = readouts(args, size, config, seed, checkpoint)
    save(saved, entry)

    if not args.det_data:
        return
    det = osp.join(work, 'det')
    iters = setting(args, size, 'det_iters')
    if not osp.isfile(osp.join(det, f'iter_{iters}.pth')):
        shutil.rmtree(det, ignore_errors=True)
        det_cfg = osp.join(work, 'det_config.py')
        det_config(args, size, seed, backbone, det_cfg)
        run(mim_train('mmdet', det_cfg, '--work-dir', det), log)
    from detco_mm.visualization import last_values
    # mmdet's CocoMetric logs nothing when the detector returned no box at all: AP 0
    entry['det'] = {k.split('/')[1]: 100 * v for k, v in last_values(det).items()
                    if k.startswith('coco/bbox_mAP')} or dict(bbox_mAP=0.0, bbox_mAP_50=0.0)
    save(saved, entry)


def paired(results, a, b, get):
    """``a - b`` over the seeds both have: 'mean [low, high]' (95 % t-interval)."""
    seeds = sorted(set(results.get(a, {})) & set(results.get(b, {})))
    diffs = [get(results[a][s]) - get(results[b][s]) for s in seeds
             if get(results[a][s]) is not None and get(results[b][s]) is not None]
    if len(diffs) < 2:
        return '-'
    mean, low, high = t_interval(diffs)
    return f'{mean:+.1f} [{low:+.1f}, {high:+.1f}]'


def readout(name, stage):
    return lambda run: run.get('readouts', {}).get(name, {}).get(stage)


def methods_of(results):
    return [m for m in ORDER if m in results]


def table(results):
    """Markdown: per readout, mean +/- std per method and paired differences; then loss vs
    chance, compute and detection."""
    lines = []
    methods = methods_of(results)
    runs = {m: list(results[m].values()) for m in methods}
    for name, title in READOUTS.items():
        done = [r for m in methods for r in runs[m] if name in r.get('readouts', {})]
        if not done:
            continue
        num, chance = done[0]['readouts']['n'][name], done[0]['readouts']['chance'][name]
        lines += [f'**{title}**: {num} images, chance {chance:.2f} %, binomial SE of one run '
                  f'{se_range(done, name)} points', '',
                  '| method | seeds | ' + ' | '.join(STAGES) + ' |',
                  '|---|---|' + '---|' * len(STAGES)]
        for m in methods:
            values = [[readout(name, s)(r) for r in runs[m] if readout(name, s)(r) is not None]
                      for s in STAGES]
            lines.append(f'| {LABELS[m]} | {len(values[0])} | ' +
                         ' | '.join(mean_std_cell(v) for v in values) + ' |')
        pairs = [(a, b) for a, b in PAIRS if a in results and b in results]
        if pairs and any(paired(results, a, b, readout(name, 'res2')) != '-' for a, b in pairs):
            lines += ['', 'paired difference over seeds, mean [95 % t-interval]:', '',
                      '| difference | ' + ' | '.join(STAGES) + ' |',
                      '|---|' + '---|' * len(STAGES)]
            for a, b in pairs:
                lines.append(f'| {a} - {b} | ' + ' | '.join(
                    paired(results, a, b, readout(name, s)) for s in STAGES) + ' |')
        lines.append('')
    lines += ['**training**: unweighted InfoNCE terms at the end (mean of the last logged '
              'window) against chance ln(queue + 1); compute per run', '',
              '| method | terms below chance | mean term / chance | steps | images seen | '
              'pretraining wall (min) | AP | AP50 |',
              '|---|---|---|---|---|---|---|---|']
    for m in methods:
        trained = [r for r in runs[m] if 'loss' in r]
        below = ([f"{r['loss']['below']}/{len(r['loss']['terms'])}" for r in trained])
        seconds = [r['compute']['seconds'] / 60 for r in trained if r['compute']['seconds']]
        det = [[r['det'][k] for r in runs[m] if 'det' in r] for k in ('bbox_mAP', 'bbox_mAP_50')]
        lines.append(
            f'| {LABELS[m]} | {", ".join(below) or "-"} | '
            f'{mean_std_cell([r["loss"]["ratio"] for r in trained], 3)} | '
            f'{trained[0]["compute"]["iters"] if trained else 0} | '
            f'{trained[0]["compute"]["images"] if trained else 0} | '
            f'{mean_std_cell(seconds)} | {mean_std_cell(det[0])} | {mean_std_cell(det[1])} |')
    return '\n'.join(lines)


def se_range(done, name):
    """The binomial SE of the readout's values, lowest to highest."""
    from detco_mm.evaluation import binomial_se
    ses = [binomial_se(v, r['readouts']['n'][name])
           for r in done for v in r['readouts'][name].values()]
    return f'{min(ses):.1f}-{max(ses):.1f}'


def plot(results, out):
    """Loss over chance and per-stage retrieval against the iteration, mean over seeds; the
    random init's retrieval as a dotted line."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    keys = ['chance/nce_ratio'] + [f'retrieval/{s}_top1' for s in STAGES]
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 2.8))
    for i, method in enumerate(methods_of(results)):
        color = f'C{i}'
        runs = list(results[method].values())
        for ax, key in zip(axes, keys):
            curves = [r['curves'][key] for r in runs if key in r.get('curves', {})]
            if curves:
                xs = curves[0][0]
                ys = [statistics.mean(c[1][j] for c in curves if len(c[1]) > j)
                      for j in range(len(xs))]
                ax.plot(xs, ys, color=color, marker='.' if key != keys[0] else None,
                        label=method)
            elif method == RANDOM and key != keys[0]:
                stage = key.split('/')[1].replace('_top1', '')
                values = [readout('retrieval', stage)(r) for r in runs]
                values = [v for v in values if v is not None]
                if values:
                    ax.axhline(statistics.mean(values), color=color, ls=':', label=method)
    axes[0].axhline(1.0, color='gray', ls='--', lw=0.8)
    axes[0].set(title='mean InfoNCE term / ln(K+1)', xlabel='iteration')
    for ax, stage in zip(axes[1:], STAGES):
        ax.set(title=f'view retrieval {stage} (%)', xlabel='iteration')
    axes[-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=70)
    plt.close(fig)


def temporary(path):
    """A name beside ``path`` of this process and thread only: processes and threads of one
    work dir write the same reports."""
    stem, ext = osp.splitext(path)
    return f'{stem}.{os.getpid()}-{threading.get_ident()}.tmp{ext}'


def save(path, entry):
    """Write JSON through a temporary file: processes of one work dir read each other's."""
    tmp = temporary(path)
    with open(tmp, 'w') as file:
        json.dump(entry, file, indent=1)
    os.replace(tmp, path)


def collect(work_dir):
    """Every run's result.json under ``work_dir`` (runs of other processes included)."""
    results = dict()
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'seed*', 'result.json'))):
        method, seed = path.split(os.sep)[-3], path.split(os.sep)[-2][len('seed'):]
        results.setdefault(method, {})[seed] = json.load(open(path))
    return results


def write_report(work_dir):
    """results.{json,md,png} from every run's result.json in the work dir."""
    results = collect(work_dir)
    save(osp.join(work_dir, 'results.json'), results)
    md, png = osp.join(work_dir, 'results.md'), osp.join(work_dir, 'results.png')
    with open(temporary(md), 'w') as file:
        file.write(table(results) + '\n')
    os.replace(temporary(md), md)
    plot(results, temporary(png))
    os.replace(temporary(png), png)
    return results


def put_table(page, text):
    """Replace the lines between ``PAGE_BEGIN`` and ``PAGE_END`` of ``page`` by ``text``."""
    lines = open(page).read().split('\n')
    if PAGE_BEGIN not in lines or PAGE_END not in lines:
        raise SystemExit(f'{page}: no line {PAGE_BEGIN!r} followed by a line {PAGE_END!r} to '
                         f'put the table between')
    begin, end = lines.index(PAGE_BEGIN), lines.index(PAGE_END)
    with open(page, 'w') as file:
        file.write('\n'.join(lines[:begin + 1] + text.split('\n') + lines[end:]))


def run_tasks(args, argv, tasks, jobs):
    """(seed, method) tasks in ``jobs`` processes of this tool at once (one task each)."""
    # the page and the figure are this process's, from every run, at the end
    own = {'--page', '--figure'}
    argv = [a for i, a in enumerate(argv) if a not in own and (i == 0 or argv[i - 1] not in own)]

    def one(task):
        seed, method = task
        work = osp.join(args.work_dir, method, f'seed{seed}')
        os.makedirs(work, exist_ok=True)
        with open(osp.join(work, 'task.log'), 'a') as log:
            code = subprocess.run(
                [sys.executable, osp.abspath(__file__), *argv, '--seeds', str(seed),
                 '--methods', method, '--jobs', '1'], cwd=ROOT, stdout=log,
                stderr=subprocess.STDOUT).returncode
        write_report(args.work_dir)
        return code, osp.join(work, 'task.log')

    with ThreadPoolExecutor(jobs) as pool:
        failed = [log for code, log in pool.map(one, tasks) if code != 0]
    if failed:
        raise SystemExit(f'{len(failed)} of {len(tasks)} runs failed; see {", ".join(failed)}')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--pretrain-data', required=True,
                        help='ImageNet-layout pool: train/ and a labelled meta/train.txt')
    parser.add_argument('--probe-data', required=True,
                        help='labelled set for the readouts (imagenette_96 layout)')
    parser.add_argument('--probe-train-ann', default='meta/train.txt')
    parser.add_argument('--probe-val-ann', default='meta/val.txt',
                        help='also the held-out images of the view retrieval')
    parser.add_argument('--probe-prefix', default='',
                        help='folder of the probe images, relative to --probe-data')
    parser.add_argument('--det-data', help='COCO-format detection folder; without it, no '
                        'detection fine-tune (a later call with it adds them)')
    parser.add_argument('--det-train-ann', default='annotations/train.json')
    parser.add_argument('--det-train-img', default='train/')
    parser.add_argument('--det-val-ann', default='annotations/test.json')
    parser.add_argument('--det-val-img', default='test/')
    parser.add_argument('--work-dir', default='work_dirs/mini_benchmark')
    parser.add_argument('--size', choices=SIZES, default='small')
    parser.add_argument('--face', choices=FACES, default='mmselfsup',
                        help='the toolbox that trains: `mim train mmselfsup` on '
                        'configs/detco/small/, or `mim train mmpretrain` on their twins in '
                        'configs/detco_mmpretrain/small/')
    parser.add_argument('--methods', nargs='+', choices=ORDER, default=list(ORDER))
    parser.add_argument('--seeds', type=int, nargs='+', help='override the size\'s seeds')
    parser.add_argument('--epochs', type=int, help='override the size\'s pretraining epochs')
    parser.add_argument('--queue', type=int, help='override the size\'s queue length')
    parser.add_argument('--crop', type=int, help='override the size\'s global crop (px)')
    parser.add_argument('--pool', type=int,
                        help='pretrain on the first POOL images only (default: all)')
    parser.add_argument('--det-iters', type=int, help='override the size\'s detection steps')
    parser.add_argument('--det-scale', type=int,
                        help='override the size\'s detection image size (px)')
    parser.add_argument('--jobs', type=int,
                        help='runs at once, one process each (default: the size\'s, else one '
                        'per CPU core)')
    parser.add_argument('--workers', type=int,
                        help='dataloader processes per run (default: the size\'s, else 0)')
    parser.add_argument('--report-only', action='store_true',
                        help='rewrite results.{json,md,png} from the runs\' result.json files')
    parser.add_argument('--page', help=f'also put the table into this Markdown page, between '
                        f'the lines {PAGE_BEGIN!r} and {PAGE_END!r}')
    parser.add_argument('--figure', help='also copy results.png to this path')
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    args = parser.parse_args(argv)
    if (args.face == 'mmpretrain' and not args.report_only
            and importlib.util.find_spec('mmpretrain') is None):
        parser.error('--face mmpretrain: mmpretrain is not installed; `pip install '
                     'detco_mm[mmpretrain]`')
    if not args.report_only:
        paths = [osp.join(args.pretrain_data, 'meta', 'train.txt'),
                 osp.join(args.probe_data, args.probe_train_ann),
                 osp.join(args.probe_data, args.probe_val_ann)]
        if args.det_data:
            paths += [osp.join(args.det_data, args.det_train_ann),
                      osp.join(args.det_data, args.det_val_ann)]
        for path in paths:
            if not osp.isfile(path):
                parser.error(f'{path}: no such file (see --pretrain-data, --probe-data and '
                             f'--det-data)')
    # One thread per process, also in the trainings started from here (they inherit it).
    os.environ['OMP_NUM_THREADS'] = '1'
    size = SIZES[args.size]
    os.makedirs(args.work_dir, exist_ok=True)
    if not args.report_only:
        # the longest runs first (DetCo's local patches cost most), so that they overlap
        tasks = [(s, m) for m in ORDER if m in args.methods for s in args.seeds or size['seeds']]
        jobs = args.jobs or size.get('jobs') or min(len(tasks), os.cpu_count() or 1)
        if jobs == 1:
            for seed, method in tasks:
                run_one(args, size, method, seed)
        else:
            run_tasks(args, argv, tasks, jobs)
    results = write_report(args.work_dir)
    if args.page:
        put_table(args.page, table(results))
    if args.figure:
        shutil.copyfile(osp.join(args.work_dir, 'results.png'), args.figure)
    print(table(results))
    print(f'wrote {args.work_dir}/results.{{json,md,png}}')


if __name__ == '__main__':
    main()
