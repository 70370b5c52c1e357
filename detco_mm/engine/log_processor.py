# Copyright (c) detco_mm contributors. All rights reserved.
"""A console line a person can read: DetCo logs 24 per-term values per step (eq. 1)."""
import math
import re
from typing import Dict, Tuple

from mmengine.dist import get_world_size
from mmengine.runner import LogProcessor

from ..contracts import CONTRASTS
from .utils import unwrap_model

# The keys DetCoHead returns: loss_{contrast}_{stage} (weighted) and nce_{contrast}_{stage}.
TERM_KEY = re.compile(rf'^(loss|nce)_({"|".join(CONTRASTS)})_(\w+)$')


def term_sums(scalars: Dict[str, float],
              kind: str = 'loss') -> Tuple[Dict[str, float], Dict[str, float]]:
    """Per-contrast and per-stage sums of DetCoHead's per-term values.

    Args:
        scalars (dict[str, float]): Logged values, e.g. one line of scalars.json.
        kind (str): 'loss' (the weighted terms: each grouping sums to the total loss of
            eq. 1) or 'nce' (unweighted). Defaults to 'loss'.

    Returns:
        tuple[dict, dict]: {contrast: sum over stages}, {stage: sum over contrasts}, in the
        order the keys appear.
    """
    by_contrast: Dict[str, float] = {}
    by_stage: Dict[str, float] = {}
    for key, value in scalars.items():
        match = TERM_KEY.match(key)
        if match and match.group(1) == kind:
            contrast, stage = match.group(2), match.group(3)
            by_contrast[contrast] = by_contrast.get(contrast, 0.) + value
            by_stage[stage] = by_stage.get(stage, 0.) + value
    return by_contrast, by_stage


class DetCoLogProcessor(LogProcessor):
    """mmengine's ``LogProcessor`` with a short console line for training.

    Every scalar still reaches the visualizer backends (scalars.json, TensorBoard), plus
    ``contrast/{g2g,l2l,l2g}`` and ``stage/{res2..res5}`` (sums of the weighted terms),
    ``img_per_s`` (global batch / smoothed iteration time), ``chance/nce`` (ln(K + 1): the
    InfoNCE of keys no closer to their query than the K queued negatives) and
    ``chance/nce_ratio`` (the mean unweighted term over it; below 1: below chance). The console
    line keeps mmengine's header (epoch, lr, eta, time, data_time, memory) and the total
    ``loss``, and shows the per-contrast sums, img/s and the ratio instead of the per-term
    values. mmengine 0.10.7 has no option to keep a key out of the console only
    (``custom_cfg`` renames or re-averages), hence the subclass. Arguments are those of
    ``LogProcessor``; ``mean_pattern`` also matches the unweighted ``nce_*`` terms, so that
    they are averaged over the same window as the weighted ``loss_*`` ones (mmengine's default
    leaves them per-iteration).
    """

    def __init__(self,
                 mean_pattern: str = r'.*(loss|nce|time|data_time|grad_norm).*',
                 **kwargs) -> None:
        super().__init__(mean_pattern=mean_pattern, **kwargs)

    def get_log_after_iter(self, runner, batch_idx: int, mode: str) -> Tuple[dict, str]:
        tag, log_str = super().get_log_after_iter(runner, batch_idx, mode)
        by_contrast, by_stage = term_sums(tag)
        if mode != 'train' or not by_contrast:
            return tag, log_str
        tag.update({f'contrast/{c}': v for c, v in by_contrast.items()})
        tag.update({f'stage/{s}': v for s, v in by_stage.items()})
        # mmengine joins the 'name: value' items of the line with two spaces.
        items = [item for item in log_str.split('  ')
                 if not TERM_KEY.match(item.split(':', 1)[0])]
        items += [f'{c}: {v:.{self.num_digits}f}' for c, v in by_contrast.items()]
        if tag.get('time'):
            global_batch = runner.train_dataloader.batch_size * get_world_size()
            tag['img_per_s'] = global_batch / tag['time']
            items.append(f'img/s: {tag["img_per_s"]:.2f}')
        model = unwrap_model(runner.model)
        queue_len = getattr(getattr(model, 'head', None), 'queue_len', None)
        nce = [v for k, v in tag.items() if TERM_KEY.match(k) and k.startswith('nce_')]
        if queue_len and nce:
            tag['chance/nce'] = math.log(queue_len + 1)
            tag['chance/nce_ratio'] = sum(nce) / len(nce) / tag['chance/nce']
            items.append(f'nce/chance: {tag["chance/nce_ratio"]:.3f}')
        return tag, '  '.join(items)
