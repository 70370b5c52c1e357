# Copyright (c) detco_mm contributors. All rights reserved.
"""Write a small synthetic multi-object image set, laid out like ImageNet and COCO.

Each image holds 2-5 filled shapes (rectangle, ellipse, triangle) of random colours on a
noisy gradient background, so crops differ in content the way object-centric and
scene-like images do. Output, under ``--out``:

- ``train/synthetic/*.jpg`` and ``meta/train.txt`` (``<path> 0`` per line): the layout of
  ``mmcls.ImageNet``, so the pretraining configs only change ``data_root``;
- ``annotations/instances_train.json``: COCO boxes, polygon masks and 3 categories, for
  detection fine-tuning checks.

``--split val`` writes ``val/``, ``meta/val.txt`` and ``annotations/instances_val.json``
instead (with another ``--seed``: a held-out set for evaluation).

Example:
    python tools/data/make_synthetic_images.py --out data/detco_demo --num 64
"""
import argparse
import json
import math
import os
import os.path as osp

import numpy as np
from PIL import Image, ImageDraw

CATEGORIES = ('rectangle', 'ellipse', 'triangle')


def shape_polygon(kind: str, box: np.ndarray, rng: np.random.RandomState) -> list:
    """Polygon [x1, y1, x2, y2, ...] of one shape inside ``box`` (x1, y1, x2, y2)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    if kind == 'rectangle':
        pts = [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]
    elif kind == 'ellipse':
        cx, cy, rx, ry = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2, (y2 - y1) / 2
        pts = [(cx + rx * math.cos(t), cy + ry * math.sin(t))
               for t in np.linspace(0, 2 * math.pi, 24, endpoint=False)]
    else:
        apex = x1 + rng.uniform(0, 1) * (x2 - x1)
        pts = [(apex, y1), (x2, y2), (x1, y2)]
    return [round(c, 2) for p in pts for c in p]


def polygon_area(poly: list) -> float:
    """Shoelace area of a polygon [x1, y1, x2, y2, ...]."""
    x, y = np.array(poly[0::2]), np.array(poly[1::2])
    return float(abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) / 2)


def make_image(size: int, rng: np.random.RandomState):
    """One image and its objects [(category index, box, polygon)]."""
    h = w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    t = (xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1)) / size
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    bg = c0 * (1 - t[..., None]) + c1 * t[..., None] + rng.normal(0, 12, (h, w, 3))
    img = Image.fromarray(np.clip(bg, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    objects = []
    for _ in range(rng.randint(2, 6)):
        bw, bh = rng.randint(size // 6, size // 2, size=2)
        x1, y1 = rng.randint(0, w - bw), rng.randint(0, h - bh)
        box = np.array([x1, y1, x1 + bw, y1 + bh])
        cat = rng.randint(len(CATEGORIES))
        poly = shape_polygon(CATEGORIES[cat], box, rng)
        draw.polygon(poly, fill=tuple(int(v) for v in rng.randint(0, 256, 3)))
        objects.append((cat, box, poly))
    return img, objects


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='data/detco_demo', help='output folder')
    parser.add_argument('--num', type=int, default=64, help='number of images')
    parser.add_argument('--size', type=int, default=160, help='image side in px')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--split', default='train', help='name of the image folder, meta '
                        'list and annotation file')
    args = parser.parse_args()
    if args.num < 1 or args.size < 32:
        parser.error('need --num >= 1 and --size >= 32')

    rng = np.random.RandomState(args.seed)
    img_dir = osp.join(args.out, args.split, 'synthetic')
    for d in (img_dir, osp.join(args.out, 'meta'), osp.join(args.out, 'annotations')):
        os.makedirs(d, exist_ok=True)
    images, annotations, lines = [], [], []
    for i in range(args.num):
        img, objects = make_image(args.size, rng)
        name = f'synthetic_{i:05d}.jpg'
        img.save(osp.join(img_dir, name), quality=90)
        lines.append(f'synthetic/{name} 0')
        images.append(dict(id=i, file_name=f'{args.split}/synthetic/{name}', width=args.size,
                           height=args.size))
        for cat, box, poly in objects:
            x1, y1, x2, y2 = (int(v) for v in box)
            annotations.append(dict(
                id=len(annotations) + 1, image_id=i, category_id=cat + 1,
                bbox=[x1, y1, x2 - x1, y2 - y1], area=polygon_area(poly),
                segmentation=[poly], iscrowd=0))
    with open(osp.join(args.out, 'meta', f'{args.split}.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    coco = dict(images=images, annotations=annotations,
                categories=[dict(id=i + 1, name=n) for i, n in enumerate(CATEGORIES)])
    with open(osp.join(args.out, 'annotations', f'instances_{args.split}.json'), 'w') as f:
        json.dump(coco, f)
    print(f'wrote {args.num} images ({len(annotations)} objects) to {args.out}')


if __name__ == '__main__':
    main()
