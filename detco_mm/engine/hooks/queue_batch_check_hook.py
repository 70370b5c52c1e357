# Copyright (c) detco_mm contributors. All rights reserved.
import logging

from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log

from ..utils import unwrap_model


class QueueBatchCheckHook(Hook):
    """Check, before the first step, that the DetCo queues take whole global batches, and warn
    when a queue holds keys of the images it is compared with.

    ``DetCoHead`` writes ``batch per GPU x GPUs`` keys per step into each queue, so
    ``queue_len`` must be divisible by it, every batch must be full
    (``train_dataloader.drop_last=True``) and the dataset must hold at least one global
    batch. ``DetCoHead`` checks the size again at every step, on the keys gathered from all
    processes; this hook fails in seconds instead of after the dataloader has started. Models
    without a ``DetCoHead`` are left alone.

    Queue vs data: a queue of more than ``max_queue_fraction`` of the images of one epoch
    still holds keys of a batch's own images (from earlier epochs) when the batch comes again,
    and counts them as negatives. On 1000 images with queue 1024 the loss stops falling after
    ~150 steps and rises (the l2l terms end above where they started); MoCo's queue is 5 % of
    an ImageNet epoch (65536 / 1.28 M). The hook warns, naming both numbers.

    Args:
        max_queue_fraction (float): [C] Warn above this share of an epoch's images.
            Defaults to 0.5.
    """

    def __init__(self, max_queue_fraction: float = 0.5) -> None:
        if not 0 < max_queue_fraction:
            raise ValueError(f'QueueBatchCheckHook: max_queue_fraction={max_queue_fraction} '
                             'must be > 0')
        self.max_queue_fraction = max_queue_fraction

    def before_train(self, runner) -> None:
        model = unwrap_model(runner.model)
        head = getattr(model, 'head', None)
        if head is None or not hasattr(head, 'check_batch_size'):
            return
        loader = runner.train_dataloader
        if loader.batch_size is None:
            return
        if not getattr(loader, 'drop_last', False):
            raise ValueError('DetCo: set train_dataloader.drop_last=True; a last, smaller '
                             'batch would leave partial batches in the queues')
        global_batch = loader.batch_size * get_world_size()
        head.check_batch_size(global_batch)
        # With drop_last a dataset shorter than one global batch gives 0 steps per epoch:
        # mmengine would "train" and save untrained checkpoints without a word.
        if len(loader.dataset) < global_batch:
            raise ValueError(
                f'DetCo: the training set has {len(loader.dataset)} images, fewer than one '
                f'global batch of {global_batch} (train_dataloader.batch_size='
                f'{loader.batch_size} x {get_world_size()} processes), so no step would run; '
                f'add images or lower train_dataloader.batch_size (and model.head.queue_len)')
        epoch_images = len(loader.dataset) // global_batch * global_batch
        if head.queue_len > self.max_queue_fraction * epoch_images:
            # the largest queue under the fraction that still takes whole batches
            largest = int(self.max_queue_fraction * epoch_images) // global_batch * global_batch
            print_log(
                f'DetCo: model.head.queue_len={head.queue_len} keys is more than '
                f'{self.max_queue_fraction:.0%} of the {epoch_images} images of one epoch '
                f'({len(loader.dataset)} images, global batch {global_batch}): the queues will '
                f'hold keys of the same images as negatives, and the loss can rise after the '
                f'first epochs; lower model.head.queue_len to at most {largest} or add images',
                logger='current', level=logging.WARNING)
