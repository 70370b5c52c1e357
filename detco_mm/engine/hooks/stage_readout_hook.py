# Copyright (c) detco_mm contributors. All rights reserved.
"""What the per-stage readout hooks (``PerStageKNNHook``, ``ViewRetrievalHook``) share."""
from typing import Dict, Optional, Sequence

from mmengine.hooks import Hook
from torch import nn

from ...contracts import STAGES
from ...evaluation.knn import BN_STATS


class StageReadoutHook(Hook):
    """A hook that reads the frozen features of every backbone stage out during training.

    It checks the settings it shares with its subclasses when it is built (naming the hook
    and the setting), finds the stages of the model and sends the readouts to the log's
    message hub and to every visualizer backend.

    Args:
        interval (int): Epochs between readouts; >= 1.
        bn_stats (str): One of ``detco_mm.evaluation.knn.BN_STATS``.
        bn_batches (int): At most this many batches for the BN re-estimation; >= 1.
        stages (Sequence[str], optional): Names of the backbone outputs. None:
            ``model.head.stages``, else ``detco_mm.contracts.STAGES``.
        **counts (int): The subclass's own settings that must be >= 1 too.
    """

    priority = 'LOW'  # after the checkpoint of the epoch is written

    def __init__(self, interval: int, bn_stats: str, bn_batches: int,
                 stages: Optional[Sequence[str]], **counts: int) -> None:
        name = type(self).__name__
        counts = dict(interval=interval, **counts, bn_batches=bn_batches)
        small = [f'{key}={value}' for key, value in counts.items() if value < 1]
        if small:
            raise ValueError(f'{name}: {", ".join(small)} must be >= 1')
        if bn_stats not in BN_STATS:
            raise ValueError(f'{name}: bn_stats={bn_stats!r}, use one of {BN_STATS}')
        self.interval = interval
        self.bn_stats = bn_stats
        self.bn_batches = bn_batches
        self.stages = stages

    def stages_of(self, model: nn.Module) -> Sequence[str]:
        """The configured stages, else the model head's, else res2..res5."""
        return self.stages or getattr(getattr(model, 'head', None), 'stages', STAGES)

    def due(self, runner) -> bool:
        """Every ``interval`` epochs and after the last one."""
        return self.every_n_epochs(runner, self.interval) or self.is_last_train_epoch(runner)

    @staticmethod
    def publish(runner, scalars: Dict[str, float]) -> None:
        """To the message hub (the log) and, at the current iteration, every backend."""
        for name, value in scalars.items():
            runner.message_hub.update_scalar(name, value)
        runner.visualizer.add_scalars(scalars, step=runner.iter)
