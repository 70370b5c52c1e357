# Copyright (c) detco_mm contributors. All rights reserved.
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmselfsup.registry import HOOKS


@HOOKS.register_module()
class QueueBatchCheckHook(Hook):
    """Check, before the first step, that the DetCo queues take whole global batches.

    ``DetCoHead`` writes ``batch per GPU x GPUs`` keys per step into each queue, so
    ``queue_len`` must be divisible by it, every batch must be full
    (``train_dataloader.drop_last=True``) and the dataset must hold at least one global
    batch. ``DetCo.loss`` checks the size again at every step; this hook fails in seconds
    instead of after the dataloader has started. Models without a ``DetCoHead`` are left
    alone.
    """

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
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
