# Copyright (c) detco_mm contributors. All rights reserved.
"""Copy image folders with every image's short side reduced to at most ``--short-side`` px.

Every other file (``meta/*.txt``, annotations) is copied as is, so an ImageNet-layout set stays
one: the copy is what the GPU evidence run carries (tools/benchmarks/gpu_evidence.sh, <= 60 MB
for imagenet_det_1k and imagenette_96 at 96 px). Images already small enough are copied, not
re-encoded.

Example:
    python tools/data/resize_image_sets.py data/imagenet_det_1k data/imagenette_96 \
        --out .devdata/evidence --short-side 96
"""
import argparse
import os
import os.path as osp
import shutil

from PIL import Image

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp')


def resize_folder(src: str, dst: str, short_side: int, quality: int = 90) -> int:
    """Copy ``src`` to ``dst``, images resized; returns the number of images written."""
    count = 0
    for folder, _, files in os.walk(src):
        out = osp.join(dst, osp.relpath(folder, src))
        os.makedirs(out, exist_ok=True)
        for name in files:
            source, target = osp.join(folder, name), osp.join(out, name)
            if not name.lower().endswith(IMAGE_EXTENSIONS):
                shutil.copyfile(source, target)
                continue
            with Image.open(source) as img:
                scale = short_side / min(img.size)
                if scale >= 1:
                    shutil.copyfile(source, target)
                else:
                    size = tuple(max(1, round(s * scale)) for s in img.size)
                    img.convert('RGB').resize(size, Image.BICUBIC).save(
                        target, quality=quality)
            count += 1
    return count


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('sources', nargs='+', help='folders to copy (each to OUT/<its name>)')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--short-side', type=int, default=96)
    args = parser.parse_args(argv)
    for src in args.sources:
        if not osp.isdir(src):
            raise SystemExit(f'{src}: not a folder')
        dst = osp.join(args.out, osp.basename(osp.normpath(src)))
        count = resize_folder(src, dst, args.short_side)
        size = sum(osp.getsize(osp.join(d, f)) for d, _, fs in os.walk(dst) for f in fs)
        print(f'{dst}: {count} images, {size / 2**20:.1f} MiB')


if __name__ == '__main__':
    main()
