# Copyright (c) detco_mm contributors. All rights reserved.
from typing import Optional, Set

from mmengine.hooks import Hook

from ...datasets.checked_image_list import SKIPPED_KEY


class SkippedImagesHook(Hook):
    """Log the bad images a ``CheckedImageList`` skipped and stop when there are too many.

    The dataset replaces each bad file by a random other image (keeping the batch full) and
    records it in the replacement sample's metainfo, because dataloader workers are other
    processes. This hook reads those records in the training process: every skip is logged
    as a warning with the file, the reason and the running count, the epoch's total is
    logged at its end, and once the distinct skipped files exceed
    ``train_dataloader.dataset.max_skipped_fraction`` of the dataset the run stops with a
    RuntimeError listing the first of them. Counts are per process. Datasets that are not a
    ``CheckedImageList`` are left alone.
    """

    def before_train(self, runner) -> None:
        self.distinct: Set[str] = set()
        self.epoch_skips = 0

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        samples = data_batch.get('data_samples', ()) if isinstance(data_batch, dict) else ()
        skipped = [record for sample in samples
                   for record in getattr(sample, 'metainfo', {}).get(SKIPPED_KEY, ())]
        dataset = runner.train_dataloader.dataset
        fraction = getattr(dataset, 'max_skipped_fraction', None)
        if not skipped or fraction is None:
            return
        self.epoch_skips += len(skipped)
        self.distinct.update(skipped)
        limit = fraction * len(dataset)
        runner.logger.warning(
            f'skipped {len(skipped)} bad image(s), each replaced by a random other image: '
            f'{"; ".join(skipped)} ({len(self.distinct)} distinct skipped so far, at most '
            f'{limit:g} allowed by train_dataloader.dataset.max_skipped_fraction={fraction} of '
            f'{len(dataset)} images)')
        if len(self.distinct) > limit:
            first = '; '.join(sorted(self.distinct)[:3])
            raise RuntimeError(
                f'{len(self.distinct)} of {len(dataset)} images could not be used, more than '
                f'train_dataloader.dataset.max_skipped_fraction={fraction} allows (first: '
                f'{first}); fix or remove them from the image list, or raise the fraction')

    def after_train_epoch(self, runner) -> None:
        if self.epoch_skips:
            runner.logger.warning(
                f'epoch {runner.epoch + 1}: {self.epoch_skips} bad image(s) skipped and replaced '
                f'({len(self.distinct)} distinct files so far)')
        self.epoch_skips = 0
