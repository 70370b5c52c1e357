# Copyright (c) detco_mm contributors. All rights reserved.
"""Unlabelled images for pretraining: a folder (recursive) or a COCO-format annotation file."""
from typing import List, Sequence

from mmengine.fileio import get_file_backend, load

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp')


class UnlabeledImagesMixin:
    """Every image of a folder, or the images listed by a COCO-format annotation file.

    ``detco_mm.backends.mmselfsup.UnlabeledImages`` combines it with ``CheckedImageList``
    (``CheckedImageListMixin`` on mmselfsup's ``ImageList``), whose list reading it replaces.

    Written here because the stack has no unlabelled folder reader: mmcls 1.0.0rc6
    ``CustomDataset`` without ``ann_file`` only reads class sub-folders (files in the root are
    skipped, and it has no ``with_label=False``), mmselfsup 1.0.0 ``ImageList`` needs a list
    file, and mmdet's ``CocoDataset`` needs the ``categories`` of a detection file (and mmdet).

    - ``ann_file=''``: every file under ``data_prefix['img_path']`` (``data_root`` when empty)
      with an image extension, at any depth, sorted; no meta file.
    - ``ann_file='annotations/instances_train2017.json'`` (or any COCO-format file): the
      ``images[].file_name`` entries, relative to ``data_prefix['img_path']``; the
      annotations and categories are not read, so a file with ``images`` only works.

    Samples carry ``img_path`` only, which is all ``LoadImageChecked`` and the DetCo
    pipeline read. Bad files are skipped or stop the run exactly as in ``CheckedImageList``
    (``skip_bad_images``, ``max_skipped_fraction``), whose list reading this class replaces.

    Args:
        ann_file (str): COCO-format json, or '' to scan the image folder. Defaults to ''.
        data_root (str): Root of ``ann_file`` and ``data_prefix``. Defaults to ''.
        data_prefix (dict): ``dict(img_path=...)``, the image folder. Defaults to
            ``dict(img_path='')``.
        extensions (Sequence[str]): Image file endings, case-insensitive. Defaults to the
            common image formats.
        **kwargs: Other arguments of ``CheckedImageList`` (``pipeline``,
            ``skip_bad_images``, ``max_skipped_fraction``, ...).
    """

    def __init__(self,
                 ann_file: str = '',
                 data_root: str = '',
                 data_prefix: dict = dict(img_path=''),
                 extensions: Sequence[str] = IMG_EXTENSIONS,
                 **kwargs) -> None:
        super().__init__(ann_file=ann_file, data_root=data_root, data_prefix=data_prefix,
                         extensions=tuple(e.lower() for e in extensions), **kwargs)

    @property
    def img_prefix(self) -> str:
        return self.data_prefix['img_path'] or self.data_root

    def load_data_list(self) -> List[dict]:
        """``[dict(img_path=...)]`` from the annotation file or the folder scan."""
        backend = get_file_backend(self.img_prefix, enable_singleton=True)
        if self.ann_file:
            names = self._coco_file_names()
            # One cheap look at the first file: a wrong image folder fails here, in one line.
            if not backend.exists(backend.join_path(self.img_prefix, names[0])):
                raise FileNotFoundError(
                    f'UnlabeledImages: {names[0]!r} of {self.ann_file} is not in the image '
                    f'folder {self.img_prefix!r}; set train_dataloader.dataset.data_prefix.'
                    f'img_path to the folder its file names are relative to')
        else:
            names = self._scan_folder(backend)
        return [dict(img_path=backend.join_path(self.img_prefix, n)) for n in names]

    def _scan_folder(self, backend) -> List[str]:
        if not self.img_prefix or not backend.isdir(self.img_prefix):
            raise FileNotFoundError(
                f'UnlabeledImages: image folder {self.img_prefix!r} does not exist; set '
                f'train_dataloader.dataset.data_root (and data_prefix.img_path)')
        names = sorted(
            f for f in backend.list_dir_or_file(
                self.img_prefix, list_dir=False, list_file=True, recursive=True)
            if f.lower().endswith(self.extensions))
        if not names:
            raise FileNotFoundError(
                f'UnlabeledImages: no file ending in {", ".join(self.extensions)} under '
                f'{self.img_prefix!r} (searched recursively); point '
                f'train_dataloader.dataset.data_root at a folder of images')
        return names

    def _coco_file_names(self) -> List[str]:
        if not get_file_backend(self.ann_file, enable_singleton=True).exists(self.ann_file):
            raise FileNotFoundError(
                f'UnlabeledImages: annotation file {self.ann_file!r} does not exist; set '
                f'train_dataloader.dataset.data_root and ann_file (\'\' reads every image of '
                f'the folder instead)')
        ann = load(self.ann_file, file_format='json')
        images = ann.get('images') if isinstance(ann, dict) else None
        if not images or not all('file_name' in img for img in images):
            raise ValueError(
                f'UnlabeledImages: {self.ann_file} is not a COCO-format file: need a non-empty '
                f'"images" list whose entries have "file_name"; set '
                f'train_dataloader.dataset.ann_file to e.g. annotations/instances_train2017.json '
                f'or to \'\' to read every image of the folder')
        return [img['file_name'] for img in images]
