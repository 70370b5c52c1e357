# Copyright (c) detco_mm contributors. All rights reserved.
"""Save the 4 views a config's train pipeline makes of N images, as PNGs.

One PNG per image: global q, global k, and for each local view its crop (255 px in the real
configs) with the jigsaw patches outlined and numbered by their slot in the mosaic, next to the
mosaic the network sees (paper 3.3). Uses the config's own dataset and pipeline.

Example:
    python tools/analysis/browse_views.py configs/detco/detco_resnet18_1xb4-coslr-2e_tiny.py \
        --data-root data/detco_demo/ --num 4
    python tools/analysis/browse_views.py configs/detco/detco_resnet50_8xb32-coslr-800e_coco.py \
        --data-root PATH/  # a COCO-layout set: PATH/train2017/, PATH/annotations/
"""
import argparse
import os
import os.path as osp

import matplotlib

matplotlib.use('Agg')  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.utils import ProgressBar  # noqa: E402

import detco_mm  # noqa: F401,E402
from detco_mm.backends import init_config_scope  # noqa: E402
from detco_mm.visualization import build_view_sampler, make_views  # noqa: E402


def rgb(img: np.ndarray) -> np.ndarray:
    """mmcv loads BGR."""
    return img[..., ::-1] if img.ndim == 3 else img


def save_figure(views, title: str, out: str) -> None:
    panels = sum(2 if 'crop' in v else 1 for v in views)
    fig, axes = plt.subplots(1, panels, figsize=(3 * panels, 3.4))
    axes = iter(axes)
    for view in views:
        if 'crop' in view:
            ax = next(axes)
            ax.imshow(rgb(view['crop']))
            for slot, cell in enumerate(view['perm']):
                x1, y1, x2, y2 = view['boxes'][cell]
                ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, color='yellow'))
                ax.text(x1 + 1, y1 + 1, str(slot), color='yellow', va='top', fontsize=9,
                        bbox=dict(facecolor='black', alpha=0.6, pad=1, lw=0))
            ax.set_title(f'{view["name"]}: crop, patches', fontsize=9)
            ax.axis('off')
        ax = next(axes)
        ax.imshow(rgb(view['img']))
        ax.set_title(view['name'] + (': mosaic' if 'crop' in view else ''), fontsize=9)
        ax.axis('off')
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--data-root', help='overrides train_dataloader.dataset.data_root')
    parser.add_argument('--num', type=int, default=4, help='number of images')
    parser.add_argument('--seed', type=int, default=0, help='seed of the random augmentations')
    parser.add_argument('--out', default='work_dirs/views', help='output folder')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='config overrides, as for mim train')
    args = parser.parse_args(argv)

    cfg = Config.fromfile(args.config)
    init_config_scope(cfg)
    cfg.merge_from_dict(args.cfg_options)
    if args.data_root:
        cfg.train_dataloader.dataset.data_root = args.data_root
    dataset, view_pipelines = build_view_sampler(cfg.train_dataloader.dataset)
    np.random.seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    num = min(args.num, len(dataset))
    bar = ProgressBar(num)
    files = []
    for i in range(num):
        results = dataset[i]
        files.append(osp.join(args.out, f'views_{i:03d}.png'))
        save_figure(make_views(results, view_pipelines), results['img_path'], files[-1])
        bar.update()
    print(f'\n{num} images -> {args.out}/views_*.png')


if __name__ == '__main__':
    main()
