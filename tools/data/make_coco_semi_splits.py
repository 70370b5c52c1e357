# Copyright (c) detco_mm contributors. All rights reserved.
"""Write COCO annotation files that keep a random percentage of the images.

DetCo fine-tunes Mask R-CNN and RetinaNet on 1 %, 2 %, 5 % and 10 % of COCO train2017 for 12k
iterations [P 6.1, Tables 10-12]. Each split keeps ``round(percent / 100 * #images)`` images,
drawn without replacement with ``random.Random(seed)``, and all of their annotations; images
without annotations count like any other. Files are named like mmdet's
``tools/misc/split_coco.py`` output, ``{stem}.{seed}@{percent}.json``, which the
``*_semi-*-coco.py`` benchmark configs read (seed 1).

Example:
    python tools/data/make_coco_semi_splits.py \
        --ann data/coco/annotations/instances_train2017.json \
        --out-dir data/coco/semi_anns --percent 1 2 5 10 --seed 1
"""
import argparse
import json
import os
import os.path as osp
import random


def split_coco(coco: dict, percent: float, seed: int) -> dict:
    """The images of a random ``percent`` % of ``coco`` and their annotations.

    Args:
        coco (dict): A COCO instances file.
        percent (float): Share of the images to keep, in percent.
        seed (int): Seed of the draw; the same seed gives the same images.

    Returns:
        dict: ``coco`` with only the drawn images (in their original order) and their
        annotations; the other fields are shared with ``coco``.
    """
    images = coco['images']
    num_keep = round(percent / 100 * len(images))
    keep = set(random.Random(seed).sample(range(len(images)), num_keep))
    kept_images = [img for i, img in enumerate(images) if i in keep]
    kept_ids = {img['id'] for img in kept_images}
    return dict(
        coco,
        images=kept_images,
        annotations=[a for a in coco['annotations'] if a['image_id'] in kept_ids])


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        '--ann', default='data/coco/annotations/instances_train2017.json',
        help='COCO instances json to split')
    parser.add_argument(
        '--out-dir', default='data/coco/semi_anns', help='where the splits go')
    parser.add_argument(
        '--percent', type=float, nargs='+', default=[1, 2, 5, 10],
        help='percentages of the images to keep, one file each')
    parser.add_argument('--seed', type=int, default=1, help='seed of the draw')
    return parser.parse_args()


def main():
    args = parse_args()
    with open(args.ann) as f:
        coco = json.load(f)
    os.makedirs(args.out_dir, exist_ok=True)
    stem = osp.splitext(osp.basename(args.ann))[0]
    for percent in args.percent:
        split = split_coco(coco, percent, args.seed)
        out = osp.join(args.out_dir, f'{stem}.{args.seed}@{percent:g}.json')
        with open(out, 'w') as f:
            json.dump(split, f)
        print(f'{percent:g}%: {len(split["images"])} of {len(coco["images"])} images, '
              f'{len(split["annotations"])} of {len(coco["annotations"])} annotations '
              f'-> {out}')


if __name__ == '__main__':
    main()
