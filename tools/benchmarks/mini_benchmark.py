# Copyright (c) detco_mm contributors. All rights reserved.
"""Table 1 and Table 2 of DetCo in miniature: MoCo v2 vs HIC-only vs DetCo vs random init.

For every seed and method (configs/detco/small/: the MoCo v2 reduction of Table 1(a), HIC
only, DetCo, all ResNet-18 with the same budget), this runs the commands a user would:

1. ``mim train mmselfsup`` on the unlabelled pool (``--pretrain-data``, ImageNet layout; its
   ``meta/train.txt`` labels are read only by the kNN probe), with ``PerStageKNNHook``
   logging per-stage kNN top-1 (leave-one-out, BN statistics re-estimated) at the end;
2. the same kNN with the checkpoint's running BN statistics (the BN measurement of
   README "Batch-norm statistics of frozen features");
3. ``tools/model_converters/detco_to_backbone.py``, then ``mim train mmdet`` with
   configs/detco/small/faster-rcnn_r18_fpn_small.py on ``--det-data`` (COCO format);
   bbox AP on its test split.

Random init is the floor: kNN of a randomly initialised backbone (BN re-estimated) and the
same detection fine-tune from it. Each run's configs are written next to its outputs under
``WORK_DIR/{method}/seed{S}/`` (``pretrain_config.py``, ``det_config.py``: what ran, with
data, budget and seed filled in); a step whose outputs exist is skipped, so an interrupted
run continues. ``results.json``, ``results.md`` (mean +/- sample std over seeds) and
``results.png`` are rewritten after every step from every run's ``result.json`` in the work
dir. Seeds are the outer loop: a run cut short has whole seeds; to use more cores, start one
process per seed (``--seeds 0``, ``--seeds 1``, ...) on the same work dir, then
``--report-only``.

Sizes (``--size``; ``--epochs``, ``--queue``, ``--crop``, ``--pool``, ``--det-iters``,
``--det-scale``, ``--seeds`` override; ``--crop`` scales the local crop, jigsaw and kNN images
with it; ``--skip-det`` leaves the detection fine-tunes for a later call):
    tiny:  32 px crops, 1 epoch, 2 detection steps at 64 px: a CI smoke test on
           tools/data/make_synthetic_images.py.
    small: 32 px crops, the first 256 images, 3 epochs, queue 256, 40 detection steps at
           128 px, seeds 0 1 2: ~1 h on 2 shared CPU cores with
           ../shared/data/imagenet_det_1k and fruit (measured, one process per seed).
    medium: 64 px crops, all images, 10 epochs, queue 1024, 300 detection steps at 320 px,
           seeds 0 1 2: hours on a CPU (~7 s per detection step per core), for more cores.
    gpu:   128 px crops, 100 epochs, 3000 detection steps at 640 px, seeds 0 1 2 (one GPU).

Example:
    python tools/benchmarks/mini_benchmark.py --size small \
        --pretrain-data ../shared/data/imagenet_det_1k --det-data ../shared/data/fruit \
        --work-dir work_dirs/mini_benchmark
"""
import argparse
import glob
import json
import os
import os.path as osp
import shutil
import statistics
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SMALL = osp.join(ROOT, 'configs', 'detco', 'small')
METHODS = {
    'mocov2': osp.join(SMALL, 'mocov2_resnet18_1xb32-coslr-10e_small.py'),
    'hic': osp.join(SMALL, 'detco-hic_resnet18_1xb32-coslr-10e_small.py'),
    'detco': osp.join(SMALL, 'detco_resnet18_1xb32-coslr-10e_small.py'),
}
RANDOM = 'random'
DET_CONFIG = osp.join(SMALL, 'faster-rcnn_r18_fpn_small.py')
STAGES = ('res2', 'res3', 'res4', 'res5')
SIZES = {
    'tiny': dict(epochs=1, det_iters=2, seeds=[0], batch=4, queue=16, crop=32, det_scale=64),
    'small': dict(epochs=3, det_iters=40, seeds=[0, 1, 2], batch=32, queue=256, crop=32,
                  det_scale=128, pool=256),
    'medium': dict(epochs=10, det_iters=300, seeds=[0, 1, 2], batch=32, queue=1024, crop=64,
                   det_scale=320),
    'gpu': dict(epochs=100, det_iters=3000, seeds=[0, 1, 2], batch=32, queue=4096, crop=128,
                det_scale=640),
}
LABELS = {'mocov2': 'MoCo v2 (Table 1(a) reduction)', 'hic': 'HIC only (Table 1(b))',
          'detco': 'DetCo (Table 1(c))', RANDOM: 'random init (floor)'}


def run(cmd, log):
    """Run ``cmd`` from the repository root, its output appended to ``log``."""
    with open(log, 'a') as file:
        file.write(' '.join(cmd) + '\n')
        file.flush()
        proc = subprocess.run(cmd, cwd=ROOT, stdout=file, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise SystemExit(f'failed ({proc.returncode}): {" ".join(cmd)}; see {log}')


def mim(*args):
    return [shutil.which('mim', path=osp.dirname(sys.executable)) or 'mim', 'train', *args]


def last_scalars(work_dir, prefix):
    """The last value of every scalar starting with ``prefix`` in the run's scalars.json."""
    values = dict()
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        for line in open(path):
            values.update({k: v for k, v in json.loads(line).items() if k.startswith(prefix)})
    return values


def setting(args, size, key):
    """A command-line override, else the size's value (None: the size does not set it)."""
    value = getattr(args, key, None)
    return size.get(key) if value is None else value


def set_crops(cfg, crop):
    """Global crops of ``crop`` px, local crops of 1.5x cut into 3x3 cells with patches of
    3/4 of a cell (the paper's 224 / 255 / 85 / 64 proportions), kNN centre crops of ``crop``."""
    for views in cfg.train_dataloader.dataset.pipeline[1]['transforms']:
        jigsaw = [t for t in views if t['type'] == 'JigsawPatches']
        views[0]['size'] = crop * 3 // 2 if jigsaw else crop
        for t in jigsaw:
            t.update(cell_size=crop // 2, patch_size=crop * 3 // 8)
    for hook in cfg.custom_hooks:
        if hook['type'] == 'PerStageKNNHook':
            pipeline = hook['train_dataloader']['dataset']['pipeline']
            pipeline[1]['scale'], pipeline[2]['crop_size'] = crop * 8 // 7, crop


def pretrain_config(args, size, method, seed, path):
    """The method's small config with this run's data, budget and seed, written to ``path``."""
    from mmengine.config import Config
    cfg = Config.fromfile(METHODS[method])
    epochs, batch = setting(args, size, 'epochs'), size['batch']
    data = osp.abspath(args.pretrain_data) + '/'
    cfg.randomness = dict(seed=seed)
    cfg.model.head.queue_len = setting(args, size, 'queue')
    cfg.optim_wrapper.optimizer.lr = 0.06 * batch / 256  # [P 6.5] scaled to the batch
    cfg.train_dataloader.update(batch_size=batch, num_workers=args.workers,
                                persistent_workers=args.workers > 0)
    cfg.train_dataloader.dataset.data_root = data
    pool = setting(args, size, 'pool')
    if pool:
        cfg.train_dataloader.dataset.indices = pool
    cfg.train_cfg.max_epochs = epochs
    cfg.param_scheduler[0].update(T_max=epochs, end=epochs)
    for hook in cfg.custom_hooks:
        if hook['type'] == 'PerStageKNNHook':
            hook['interval'] = epochs
            hook['train_dataloader']['dataset']['data_root'] = data
    set_crops(cfg, setting(args, size, 'crop'))
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
    cfg.model.backbone.init_cfg = (dict(type='Pretrained', checkpoint=backbone)
                                   if backbone else None)
    cfg.train_cfg.update(max_iters=iters, val_interval=iters)
    cfg.param_scheduler[0].end = min(50, iters)
    cfg.param_scheduler[1].update(end=iters, milestones=[max(1, iters * 3 // 4)])
    cfg.default_hooks.checkpoint.interval = iters
    for loader, ann, img in ((cfg.train_dataloader, args.det_train_ann, args.det_train_img),
                             (cfg.val_dataloader, args.det_val_ann, args.det_val_img)):
        loader.update(num_workers=args.workers, persistent_workers=args.workers > 0)
        loader.dataset.update(data_root=data, ann_file=ann, data_prefix=dict(img=img),
                              metainfo=dict(classes=classes))
        for t in loader.dataset.pipeline:
            if t['type'] == 'Resize':
                t['scale'] = (scale, scale)
    cfg.test_dataloader = cfg.val_dataloader
    cfg.val_evaluator.ann_file = cfg.test_evaluator.ann_file = data + args.det_val_ann
    cfg.dump(path)


def knn(config, seed, checkpoint, bn_stats):
    """Per-stage kNN of a checkpoint's query backbone (None: random init), in-process."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import set_random_seed

    import detco_mm  # noqa: F401  registers DetCo and the hook
    from detco_mm.evaluation import knn_of_config
    init_default_scope('mmselfsup')
    set_random_seed(seed)
    return {k.replace('_top1', ''): v
            for k, v in knn_of_config(Config.fromfile(config), checkpoint, bn_stats).items()}


def run_one(args, size, method, seed, results):
    """Pretrain (unless random), kNN both ways, detection fine-tune; results[method][seed]."""
    work = osp.join(args.work_dir, method, f'seed{seed}')
    os.makedirs(work, exist_ok=True)
    log = osp.join(work, 'commands.log')
    entry = results.setdefault(method, {}).setdefault(str(seed), {})
    saved = osp.join(work, 'result.json')
    if osp.isfile(saved):
        entry.update(json.load(open(saved)))
    config = osp.join(work, 'pretrain_config.py')
    pretrain_config(args, size, method if method in METHODS else 'detco', seed, config)
    backbone = None
    if method != RANDOM:
        pretrain = osp.join(work, 'pretrain')
        checkpoint = osp.join(pretrain, f'epoch_{setting(args, size, "epochs")}.pth')
        if not osp.isfile(checkpoint):
            run(mim('mmselfsup', config, '--work-dir', pretrain), log)
        entry['knn'] = {k.split('/')[1].replace('_top1', ''): v
                        for k, v in last_scalars(pretrain, 'knn/').items()}
        if 'knn_running_bn' not in entry:
            entry['knn_running_bn'] = knn(config, seed, checkpoint, 'running')
        backbone = osp.join(work, 'backbone.pth')
        if not osp.isfile(backbone):
            run([sys.executable, osp.join(ROOT, 'tools', 'model_converters',
                                          'detco_to_backbone.py'), checkpoint, backbone], log)
    elif 'knn' not in entry:
        entry['knn'] = knn(config, seed, None, 'reestimate')
    save(saved, entry)
    write_report(args, results)

    if args.skip_det:
        return
    det = osp.join(work, 'det')
    iters = setting(args, size, 'det_iters')
    if not osp.isfile(osp.join(det, f'iter_{iters}.pth')):
        shutil.rmtree(det, ignore_errors=True)
        det_cfg = osp.join(work, 'det_config.py')
        det_config(args, size, seed, backbone, det_cfg)
        run(mim('mmdet', det_cfg, '--work-dir', det), log)
    # mmdet's CocoMetric logs nothing when the detector returned no box at all: AP 0
    entry['det'] = {k.split('/')[1]: 100 * v
                    for k, v in last_scalars(det, 'coco/bbox_mAP').items()} or dict(
                        bbox_mAP=0.0, bbox_mAP_50=0.0)
    save(saved, entry)
    write_report(args, results)


def mean_std(values):
    if not values:
        return '-'
    if len(values) == 1:
        return f'{values[0]:.1f}'
    return f'{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}'


def table(results):
    """Markdown: per-stage kNN (BN re-estimated), detection AP; then the BN comparison."""
    lines = ['| method | seeds | kNN res2 | kNN res3 | kNN res4 | kNN res5 | AP | AP50 |',
             '|---|---|---|---|---|---|---|---|']
    bn = ['| method | BN statistics | res2 | res3 | res4 | res5 |', '|---|---|---|---|---|---|']
    for method in [m for m in (*METHODS, RANDOM) if m in results]:
        runs = list(results[method].values())
        col = lambda group, key: [r[group][key] for r in runs if key in r.get(group, {})]  # noqa
        lines.append(f'| {LABELS[method]} | {len(runs)} | ' +
                     ' | '.join(mean_std(col('knn', s)) for s in STAGES) + ' | ' +
                     ' | '.join(mean_std(col('det', k)) for k in ('bbox_mAP', 'bbox_mAP_50')) +
                     ' |')
        if any('knn_running_bn' in r for r in runs):
            for label, group in (('re-estimated (default)', 'knn'),
                                 ('running (checkpoint)', 'knn_running_bn')):
                bn.append(f'| {LABELS[method]} | {label} | ' +
                          ' | '.join(mean_std(col(group, s)) for s in STAGES) + ' |')
    return '\n'.join(lines + ['', 'kNN top-1 (%) by batch-norm statistics:', ''] + bn)


def plot(results, out):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    methods = [m for m in (*METHODS, RANDOM) if m in results]
    fig, (ax_knn, ax_det) = plt.subplots(1, 2, figsize=(10, 3.6),
                                         gridspec_kw=dict(width_ratios=[3, 1]))
    width = 0.8 / max(1, len(methods))
    for i, method in enumerate(methods):
        runs = list(results[method].values())
        for ax, group, keys in ((ax_knn, 'knn', STAGES), (ax_det, 'det', ('bbox_mAP',))):
            vals = [[r[group][k] for r in runs if k in r.get(group, {})] for k in keys]
            xs = [j + i * width for j, v in enumerate(vals) if v]
            vals = [v for v in vals if v]
            if vals:
                ax.bar(xs, [statistics.mean(v) for v in vals], width, label=method,
                       yerr=[statistics.stdev(v) if len(v) > 1 else 0 for v in vals])
    ax_knn.set(xticks=[j + 0.4 - width / 2 for j in range(4)], xticklabels=STAGES,
               ylabel='kNN top-1 (%)', title='per-stage kNN (mean ± std over seeds)')
    ax_det.set(xticks=[0.4 - width / 2], xticklabels=['bbox AP'], title='detection AP')
    ax_knn.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)


def save(path, entry):
    with open(path, 'w') as file:
        json.dump(entry, file, indent=1)


def collect(work_dir):
    """Every run's result.json under ``work_dir`` (runs of other processes included)."""
    results = dict()
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'seed*', 'result.json'))):
        method, seed = path.split(os.sep)[-3], path.split(os.sep)[-2][len('seed'):]
        results.setdefault(method, {})[seed] = json.load(open(path))
    return results


def write_report(args, results):
    """results.{json,md,png} from every finished run in the work dir; one process per seed
    may share a work dir. Each run's result.json is re-read every time (this process saves
    its own before calling this): another process's runs go on after this one's first
    report."""
    for method, runs in collect(args.work_dir).items():
        results.setdefault(method, {}).update(runs)
    with open(osp.join(args.work_dir, 'results.json'), 'w') as file:
        json.dump(results, file, indent=1)
    with open(osp.join(args.work_dir, 'results.md'), 'w') as file:
        file.write(table(results) + '\n')
    plot(results, osp.join(args.work_dir, 'results.png'))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--pretrain-data', required=True,
                        help='ImageNet-layout folder: train/ and a labelled meta/train.txt')
    parser.add_argument('--det-data', required=True, help='COCO-format detection folder')
    parser.add_argument('--det-train-ann', default='annotations/train.json')
    parser.add_argument('--det-train-img', default='train/')
    parser.add_argument('--det-val-ann', default='annotations/test.json')
    parser.add_argument('--det-val-img', default='test/')
    parser.add_argument('--work-dir', default='work_dirs/mini_benchmark')
    parser.add_argument('--size', choices=SIZES, default='small')
    parser.add_argument('--methods', nargs='+', choices=[*METHODS, RANDOM],
                        default=[*METHODS, RANDOM])
    parser.add_argument('--seeds', type=int, nargs='+', help='override the size\'s seeds')
    parser.add_argument('--epochs', type=int, help='override the size\'s pretraining epochs')
    parser.add_argument('--queue', type=int, help='override the size\'s queue length')
    parser.add_argument('--crop', type=int, help='override the size\'s global crop (px)')
    parser.add_argument('--pool', type=int,
                        help='pretrain on the first POOL images only (default: the size\'s, '
                        'else all)')
    parser.add_argument('--det-iters', type=int, help='override the size\'s detection steps')
    parser.add_argument('--det-scale', type=int,
                        help='override the size\'s detection image size (px)')
    parser.add_argument('--skip-det', action='store_true',
                        help='pretraining and kNN only; a later call without it adds the '
                        'detection fine-tunes')
    parser.add_argument('--workers', type=int, default=0, help='dataloader processes')
    parser.add_argument('--report-only', action='store_true',
                        help='rewrite results.{json,md,png} from the runs\' result.json files')
    args = parser.parse_args(argv)
    for path in (osp.join(args.pretrain_data, 'meta', 'train.txt'),
                 osp.join(args.det_data, args.det_train_ann),
                 osp.join(args.det_data, args.det_val_ann)):
        if not args.report_only and not osp.isfile(path):
            parser.error(f'{path}: no such file (see --pretrain-data, --det-data and --det-*)')
    size = SIZES[args.size]
    os.makedirs(args.work_dir, exist_ok=True)
    results = dict()
    if not args.report_only:
        for seed in args.seeds or size['seeds']:
            for method in args.methods:
                run_one(args, size, method, seed, results)
    write_report(args, results)
    print(table(results))
    print(f'wrote {args.work_dir}/results.{{json,md,png}}')


if __name__ == '__main__':
    main()
