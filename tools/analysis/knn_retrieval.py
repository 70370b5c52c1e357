# Copyright (c) detco_mm contributors. All rights reserved.
"""k-NN retrieval from a backbone stage's features (paper Fig. 7), one or two checkpoints.

The bank is the labelled set of the config's ``PerStageKNNHook`` (e.g. imagenet_det_1k's
meta/train.txt): global-average-pooled, L2-normalised res5 features (``--stage`` for another)
with BN statistics re-estimated on the bank (see ``detco_mm.evaluation.knn``). For
``--num-queries`` bank images spread over the set, the ``--k`` most similar others. Writes
``retrieval.png`` (per checkpoint a block: query, then its neighbours; green title = same
class) and ``retrieval.json`` (paths, labels, similarities, precision@k).

Example:
    python tools/analysis/knn_retrieval.py \
        configs/detco/small/detco_resnet18_1xb32-coslr-10e_small.py \
        work_dirs/mini_benchmark/detco/seed0/pretrain/epoch_10.pth --compare random \
        --cfg-options \
        custom_hooks.2.train_dataloader.dataset.data_root=PATH/
"""
import argparse
import json
import os
import os.path as osp

import matplotlib
from mmengine.config import Config, DictAction
from PIL import Image

import detco_mm  # noqa: F401  registers DetCo
from detco_ckpt import CheckpointError
from detco_mm.backends import init_config_scope
from detco_mm.contracts import STAGES
from detco_mm.evaluation import (
    build_knn_loader,
    extract_stage_features,
    load_query_backbone,
    nearest_neighbours,
    reestimate_bn,
)

matplotlib.use('Agg')  # files only
import matplotlib.pyplot as plt  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='pretraining config with a PerStageKNNHook')
    parser.add_argument('checkpoint', help='DetCo training checkpoint; "random" for a random init')
    parser.add_argument('--compare', help='a second checkpoint (or "random"), side by side')
    parser.add_argument('--stage', default='res5', choices=STAGES)
    parser.add_argument('--num-queries', type=int, default=6)
    parser.add_argument('--k', type=int, default=5)
    parser.add_argument('--out-dir', default='work_dirs/figures')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. the bank\'s data_root')
    args = parser.parse_args(argv)
    cfg = Config.fromfile(args.config)
    init_config_scope(cfg)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    hooks = [h for h in cfg.get('custom_hooks', []) if h.get('type') == 'PerStageKNNHook']
    if not hooks:
        parser.error(f'{args.config}: no PerStageKNNHook in custom_hooks, no labelled bank')
    checkpoints = [args.checkpoint] + ([args.compare] if args.compare else [])
    try:
        loader, labels = build_knn_loader(hooks[0]['train_dataloader'])
        models = [load_query_backbone(cfg, None if c == 'random' else c) for c in checkpoints]
    except (CheckpointError, RuntimeError, ValueError, FileNotFoundError) as error:
        parser.exit(1, f'{parser.prog}: error: {" ".join(str(error).split())[:300]}\n')
    paths = [loader.dataset.get_data_info(i)['img_path'] for i in range(len(labels))]
    step = max(1, len(paths) // args.num_queries)
    queries = list(range(0, len(paths), step))[:args.num_queries]

    results = dict()
    for checkpoint, (backbone, preprocessor) in zip(checkpoints, models):
        encoder = reestimate_bn(backbone, preprocessor, loader)
        bank = extract_stage_features(encoder, preprocessor, loader,
                                      len(labels))[STAGES.index(args.stage)]
        idx, sim = nearest_neighbours(bank, queries, args.k)
        hits = (labels[idx] == labels[queries][:, None]).float()
        results[checkpoint] = dict(
            precision_at_k=100 * hits.mean().item(),
            queries=[dict(path=paths[q], label=int(labels[q]),
                          neighbours=[dict(path=paths[j], label=int(labels[j]), sim=round(s, 4))
                                      for j, s in zip(idx[r].tolist(), sim[r].tolist())])
                     for r, q in enumerate(queries)])

    cols = 1 + args.k
    fig, axes = plt.subplots(len(queries) * len(checkpoints), cols, squeeze=False,
                             figsize=(1.6 * cols, 1.7 * len(queries) * len(checkpoints)))
    for block, (checkpoint, result) in enumerate(results.items()):
        for r, query in enumerate(result['queries']):
            row = axes[block * len(queries) + r]
            items = [dict(query, sim=None)] + query['neighbours']
            for col, item in enumerate(items):
                row[col].imshow(Image.open(item['path']).convert('RGB'))
                same = item['label'] == query['label']
                title = (f'{osp.basename(checkpoint)[:14]}\nquery' if col == 0
                         else f'{item["sim"]:.2f}')
                row[col].set_title(title, fontsize=7, color='k' if col == 0 else
                                   ('green' if same else 'red'))
    for ax in axes.flat:
        ax.axis('off')
    fig.tight_layout()
    os.makedirs(args.out_dir, exist_ok=True)
    png, out = osp.join(args.out_dir, 'retrieval.png'), osp.join(args.out_dir, 'retrieval.json')
    fig.savefig(png, dpi=70)
    plt.close(fig)
    with open(out, 'w') as file:
        json.dump(dict(config=args.config, stage=args.stage, k=args.k, results=results), file,
                  indent=1)
    for checkpoint, result in results.items():
        print(f'{checkpoint}: precision@{args.k} {result["precision_at_k"]:.1f} %')
    print(f'Wrote {png} and {out}')


if __name__ == '__main__':
    main()
