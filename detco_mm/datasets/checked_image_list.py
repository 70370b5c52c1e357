# Copyright (c) detco_mm contributors. All rights reserved.
"""An image list whose problems are one-line errors before training, or counted skips."""
import os
from typing import List, Optional, Union

from mmengine.fileio import LocalBackend, get_file_backend, join_path

from .transforms.loading import BadImageError, printable

# Metainfo key under which a sample carries the bad files it replaced ("path: reason").
SKIPPED_KEY = 'skipped_images'


def parse_line(line: str) -> tuple:
    """``'path'`` or ``'path label'`` -> (path, label or -1); a path may contain spaces."""
    parts = line.rsplit(None, 1)
    if len(parts) == 2 and parts[1].lstrip('-').isdigit():
        return parts[0], int(parts[1])
    return line, -1


class CheckedImageListMixin:
    """mmselfsup's ``ImageList`` (``ann_file`` lines ``path`` or ``path label``; labels are
    not used by self-supervised training) with every problem either an error before training
    or a counted skip. ``detco_mm.backends.mmselfsup.CheckedImageList`` combines it with
    ``ImageList`` (whose ``CustomDataset`` gives ``img_prefix``, the extensions and
    ``get_gt_labels``); both faces use that class, as both build the data pipeline in
    mmselfsup's scope.

    Before training (when the dataset is built), one-line errors for: no ``ann_file``, a
    missing ``ann_file`` or image folder, a list without any image. Lines without a label are
    fine, and so are file names that are not UTF-8 (read with Python's ``surrogateescape``,
    as POSIX file names are bytes; ``os.fsdecode`` does the same).

    During training, a file that ``LoadImageChecked`` cannot use (missing, empty, not an
    image, truncated) raises ``BadImageError``. With ``skip_bad_images`` the dataset returns
    None for it, and mmengine's ``BaseDataset.__getitem__`` then loads another, random
    sample in its place (``_rand_another``, its mechanism for pipelines that return None), so
    every batch stays full, as the queues need. The replacement sample carries the skipped
    file and the reason in its metainfo (``skipped_images``), which works across dataloader
    worker processes; ``SkippedImagesHook`` logs each skip with a running count and stops the
    run once more than ``max_skipped_fraction`` of the dataset has been skipped. Without
    ``skip_bad_images`` the first bad file stops the run with its message.

    Args:
        ann_file (str): The image list, relative to ``data_root``.
        skip_bad_images (bool): Replace bad files by random others. Defaults to True.
        max_skipped_fraction (float): Largest fraction of the dataset's images that may be
            skipped (distinct files, counted per process) before the run stops. Defaults to
            0.01.
        metainfo, data_root, data_prefix, **kwargs: As ``ImageList``.
    """

    def __init__(self,
                 ann_file: str = '',
                 metainfo: Optional[dict] = None,
                 data_root: str = '',
                 data_prefix: Union[str, dict] = '',
                 skip_bad_images: bool = True,
                 max_skipped_fraction: float = 0.01,
                 **kwargs) -> None:
        if not 0 <= max_skipped_fraction <= 1:
            raise ValueError(f'CheckedImageList: train_dataloader.dataset.max_skipped_fraction='
                             f'{max_skipped_fraction} must be in [0, 1]')
        self.skip_bad_images = skip_bad_images
        self.max_skipped_fraction = max_skipped_fraction
        # Bad files met since the last sample returned by this process (worker).
        self._pending_skips: List[str] = []
        super().__init__(ann_file=ann_file, metainfo=metainfo, data_root=data_root,
                         data_prefix=data_prefix, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Read ``ann_file``: one ``path [label]`` per line, blank lines ignored."""
        ann = self.ann_file
        if not ann:
            raise ValueError('CheckedImageList: train_dataloader.dataset.ann_file is not set; '
                             'give the image list, e.g. meta/train.txt')
        if not os.path.isfile(ann):
            raise FileNotFoundError(f'CheckedImageList: {ann} (train_dataloader.dataset.'
                                    f'ann_file under data_root) does not exist; check '
                                    f'train_dataloader.dataset.data_root')
        backend = get_file_backend(self.img_prefix, enable_singleton=True)
        if isinstance(backend, LocalBackend) and not os.path.isdir(self.img_prefix):
            raise FileNotFoundError(f'CheckedImageList: image folder {self.img_prefix} '
                                    f'(data_root + data_prefix.img_path) does not exist')
        with open(ann, 'rb') as file:
            text = file.read().decode('utf-8', 'surrogateescape').lstrip('\ufeff')
        data_list = []
        for line in text.splitlines():
            if line.strip():
                filename, label = parse_line(line.strip())
                data_list.append(dict(img_path=join_path(self.img_prefix, filename),
                                      gt_label=label))
        if not data_list:
            raise ValueError(f'CheckedImageList: {ann} lists no images; write one line per '
                             f'image, its path relative to {self.img_prefix} (a label after '
                             f'a space is optional)')
        return data_list

    def prepare_data(self, idx: int) -> Optional[dict]:
        """The pipeline's output for ``idx``, or None for a bad file (see the class doc)."""
        try:
            data = super().prepare_data(idx)
        except BadImageError as error:
            if not self.skip_bad_images:
                raise BadImageError(f'{error}; remove it from {printable(self.ann_file)} or '
                                    f'set train_dataloader.dataset.skip_bad_images=True') from None
            self._pending_skips.append(str(error))
            if len(self._pending_skips) > self.max_refetch:
                # Instead of BaseDataset's "Cannot find valid image after N!", which names
                # nothing: nearly every file is bad, e.g. a wrong data_root.
                raise BadImageError(f'{len(self._pending_skips)} images in a row could not be '
                                    f'used, the last one: {error}; check train_dataloader.'
                                    f'dataset.data_root and the image list') from None
            return None
        if data is not None and self._pending_skips:
            data['data_samples'].set_metainfo({SKIPPED_KEY: self._pending_skips})
            self._pending_skips = []
        return data
