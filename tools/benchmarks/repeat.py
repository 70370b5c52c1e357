# Copyright (c) detco_mm contributors. All rights reserved.
"""Fine-tune a benchmark config N times with different seeds; print mean ± std per metric.

Each trial is one ``mim train mmdet`` run with ``randomness.seed=SEED`` in
``WORK_DIR/seed_SEED``; its metrics are those of the run's last evaluation (scalars.json). A
semi-supervised config (``ann_file`` like ``semi_anns/instances_train2017.1@10.json``) trains
trial SEED on the split drawn with ``--seed SEED``, which tools/data/make_coco_semi_splits.py
writes first if it is missing. The markdown row (metrics in percent, std over the trials with
n - 1) is printed and appended to ``--out``.

Why repeat: MoCo reports VOC detection as the mean of 5 trials: "Variation on Pascal VOC is
large: the std of AP50, AP, AP75 is expected to be 0.2, 0.2, 0.4 in most cases"
(facebookresearch/moco, detection/README.md). The semi-supervised COCO tables [P 6.1] depend
on the drawn split as well, so there each trial also draws its own split.

Example (VOC as MoCo reports it, 5 trials on 8 GPUs):
    python tools/benchmarks/repeat.py \
        configs/benchmarks/mmdetection/voc0712/faster-rcnn_r50-c4_ms-24k_voc0712.py \
        --pretrain work_dirs/detco_backbone.pth --trials 5 --gpus 8
"""
import argparse
import os
import os.path as osp
import re
import subprocess
import sys
from typing import Dict, List, Optional, Sequence, Tuple

from _bench import format_mean_std, mean_std, mim_train
from mmengine.config import Config
from pretrain_cfg_options import pretrain_cfg_options

from detco_mm.visualization import last_values

SPLIT_TOOL = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data',
                      'make_coco_semi_splits.py')
# ``{stem}.{seed}@{percent}.json``, the split files of tools/data/make_coco_semi_splits.py
SEMI_SPLIT = re.compile(r'^(?P<head>.*?)(?P<stem>[^/]+)\.(?P<seed>\d+)@(?P<percent>[\d.]+)\.json$')


def semi_split(ann_file: str, seed: int) -> Optional[Tuple[str, str, str]]:
    """Where the split of ``seed`` lies, for a semi-supervised split file ``ann_file``.

    Args:
        ann_file (str): A config's ``train_dataloader.dataset.ann_file``.
        seed (int): Seed of the draw.

    Returns:
        tuple | None: ``(ann_file of that draw, stem of the full file, percent)``, e.g.
        ``('semi_anns/instances_train2017.3@10.json', 'instances_train2017', '10')``; None
        when ``ann_file`` is not a split file.
    """
    match = SEMI_SPLIT.match(ann_file)
    if match is None:
        return None
    head, stem, percent = match.group('head', 'stem', 'percent')
    return f'{head}{stem}.{seed}@{percent}.json', stem, percent


def train_command(config: str, work_dir: str, seed: int, cfg_options: Sequence[str] = (),
                  gpus: int = 1) -> List[str]:
    """``mim train mmdet`` for one trial: single process unless ``gpus`` > 1 (torchrun)."""
    launcher = ['--launcher', 'pytorch', '--gpus', str(gpus)] if gpus > 1 else []
    return mim_train('mmdet', config, '--work-dir', work_dir, *launcher, '--cfg-options',
                     f'randomness.seed={seed}', *cfg_options)


def final_metrics(work_dir: str) -> Dict[str, float]:
    """The metrics of the last evaluation in ``work_dir``: mmengine logs them in
    ``<timestamp>/vis_data/scalars.json`` with the evaluator's prefix (``coco/bbox_mAP``,
    ``pascal_voc/mAP``); the last value of each."""
    metrics = {key: value for key, value in last_values(work_dir).items() if '/' in key}
    if not metrics:
        raise ValueError(f'{work_dir}: no evaluation logged; set train_cfg.val_interval so '
                         'the run evaluates at its end')
    return metrics


def summarize(trials: Sequence[Dict[str, float]],
              keys: Optional[Sequence[str]] = None) -> Dict[str, Tuple[float, float]]:
    """Mean and std over the trials of each metric (default: those every trial has)."""
    if keys is None:
        keys = [key for key in trials[0] if all(key in t for t in trials)]
    missing = [key for key in keys if any(key not in t for t in trials)]
    if missing:
        raise KeyError(f'metrics {missing} are missing from some trials; logged: '
                       f'{sorted(trials[0])}')
    return {key: mean_std([t[key] for t in trials]) for key in keys}


def markdown_header(keys: Sequence[str]) -> str:
    """Header of the table whose rows ``markdown_row`` writes."""
    return '\n'.join(['| config | trials | ' + ' | '.join(keys) + ' |',
                      '|---|---|' + '---|' * len(keys)])


def markdown_row(name: str, num_trials: int, summary: Dict[str, Tuple[float, float]]) -> str:
    """``| name | n | mean ± std | ... |`` with the metrics in percent, as the papers."""
    cells = [format_mean_std(100 * mean, 100 * std, 2) for mean, std in summary.values()]
    return f'| {name} | {num_trials} | ' + ' | '.join(cells) + ' |'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='benchmark config')
    parser.add_argument('--pretrain', help='DetCo backbone state_dict or training checkpoint')
    parser.add_argument('--trials', type=int, default=5, help='number of trials')
    parser.add_argument('--seeds', type=int, nargs='+',
                        help='one seed per trial (default 1..TRIALS; seed 1 is the split the '
                        'semi-supervised configs name)')
    parser.add_argument('--gpus', type=int, default=1,
                        help='GPUs per trial; above 1 the trials run under torchrun')
    parser.add_argument('--work-dir', help='default work_dirs/benchmarks/repeat/<config>')
    parser.add_argument('--metrics', nargs='+',
                        help='metrics to report (default: all of the last evaluation)')
    parser.add_argument('--out', help='markdown file the row is appended to '
                        '(default WORK_DIR/summary.md)')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='KEY=VALUE options passed on to every trial')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    seeds = args.seeds or list(range(1, args.trials + 1))
    if len(seeds) != args.trials:
        sys.exit(f'--seeds: {len(seeds)} seeds for --trials {args.trials}; give one per trial')
    name = osp.splitext(osp.basename(args.config))[0]
    work_dir = args.work_dir or osp.join('work_dirs', 'benchmarks', 'repeat', name)
    options = list(args.cfg_options)
    if args.pretrain:
        options += pretrain_cfg_options(args.config, args.pretrain)
    dataset = Config.fromfile(args.config).train_dataloader.dataset

    trials = []
    for seed in seeds:
        trial_options = list(options)
        split = semi_split(dataset.get('ann_file', ''), seed)
        if split is not None:
            ann_file, stem, percent = split
            if not osp.exists(osp.join(dataset.data_root, ann_file)):
                subprocess.run([sys.executable, SPLIT_TOOL, '--ann',
                                osp.join(dataset.data_root, 'annotations', f'{stem}.json'),
                                '--out-dir', osp.join(dataset.data_root, osp.dirname(ann_file)),
                                '--percent', percent, '--seed', str(seed)], check=True)
            trial_options.append(f'train_dataloader.dataset.ann_file={ann_file}')
        trial_dir = osp.join(work_dir, f'seed_{seed}')
        subprocess.run(train_command(args.config, trial_dir, seed, trial_options, args.gpus),
                       check=True)
        trials.append(final_metrics(trial_dir))
        print(f'seed {seed}: ' + ', '.join(f'{k}={v:.4f}' for k, v in trials[-1].items()))

    summary = summarize(trials, args.metrics)
    row = markdown_row(name, len(trials), summary)
    out = args.out or osp.join(work_dir, 'summary.md')
    new = not osp.exists(out)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with open(out, 'a') as f:
        f.write((markdown_header(list(summary)) + '\n' if new else '') + row + '\n')
    print(markdown_header(list(summary)))
    print(row)


if __name__ == '__main__':
    main()
