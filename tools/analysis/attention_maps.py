# Copyright (c) detco_mm contributors. All rights reserved.
"""Attention maps of a backbone stage (paper Fig. 5), one or two checkpoints side by side.

For each image: the channel mean of the res5 feature map (``--stage`` for another), min-max
normalised, bilinearly upsampled and overlaid on the image. Writes ``attention.png`` (rows:
images; columns: the image, then one overlay per checkpoint) and ``attention.json`` (the
normalised maps at feature resolution).

Example:
    python tools/analysis/attention_maps.py configs/detco/detco_resnet18_1xb4-coslr-2e_tiny.py \
        work_dirs/detco_demo/epoch_2.pth --compare work_dirs/detco_demo/epoch_1.pth \
        --images data/detco_demo/train/synthetic/*.jpg --out-dir work_dirs/figures
"""
import argparse
import json
import os
import os.path as osp

import matplotlib
from mmengine.config import Config

import detco_mm  # noqa: F401  registers DetCo
from detco_ckpt import CheckpointError
from detco_mm.backends import init_config_scope
from detco_mm.contracts import STAGES
from detco_mm.evaluation import attention_map, load_image, load_query_backbone

matplotlib.use('Agg')  # files only
import matplotlib.pyplot as plt  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='the pretraining config of the checkpoint(s)')
    parser.add_argument('checkpoint', help='DetCo training checkpoint; "random" for a random init')
    parser.add_argument('--compare', help='a second checkpoint (or "random"), side by side')
    parser.add_argument('--images', nargs='+', required=True, help='image files')
    parser.add_argument('--short-side', type=int, default=224, help='resize before the backbone')
    parser.add_argument('--stage', default='res5', help='res2..res5')
    parser.add_argument('--out-dir', default='work_dirs/figures')
    args = parser.parse_args(argv)
    if args.stage not in STAGES:
        parser.error(f'--stage {args.stage}: use one of {", ".join(STAGES)}')
    cfg = Config.fromfile(args.config)
    init_config_scope(cfg)
    checkpoints = [args.checkpoint] + ([args.compare] if args.compare else [])
    try:
        models = [load_query_backbone(cfg, None if c == 'random' else c) for c in checkpoints]
        images = [load_image(path, args.short_side) for path in args.images]
    except (CheckpointError, RuntimeError, ValueError) as error:
        parser.exit(1, f'{parser.prog}: error: {" ".join(str(error).split())[:300]}\n')

    fig, axes = plt.subplots(len(images), 1 + len(models), squeeze=False,
                             figsize=(3 * (1 + len(models)), 3 * len(images)))
    maps = {c: {} for c in checkpoints}
    for row, (path, image) in enumerate(zip(args.images, images)):
        rgb = image.flip(0).permute(1, 2, 0).numpy()  # BGR (3, H, W) -> RGB (H, W, 3)
        axes[row, 0].imshow(rgb)
        axes[row, 0].set_title(osp.basename(path), fontsize=8)
        for col, (checkpoint, (backbone, preprocessor)) in enumerate(zip(checkpoints, models)):
            small, full = attention_map(backbone, preprocessor, image, STAGES.index(args.stage))
            maps[checkpoint][path] = [[round(v, 4) for v in r] for r in small.tolist()]
            axes[row, col + 1].imshow(rgb)
            axes[row, col + 1].imshow(full.numpy(), cmap='jet', alpha=0.5)
            axes[row, col + 1].set_title(f'{args.stage} {osp.basename(checkpoint)}', fontsize=8)
    for ax in axes.flat:
        ax.axis('off')
    fig.tight_layout()
    os.makedirs(args.out_dir, exist_ok=True)
    png, out = osp.join(args.out_dir, 'attention.png'), osp.join(args.out_dir, 'attention.json')
    fig.savefig(png, dpi=80)
    plt.close(fig)
    with open(out, 'w') as file:
        json.dump(dict(config=args.config, stage=args.stage, short_side=args.short_side,
                       maps=maps), file)
    print(f'Wrote {png} and {out}')


if __name__ == '__main__':
    main()
