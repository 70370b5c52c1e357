# Copyright (c) detco_mm contributors. All rights reserved.
"""DetCo's view augmentation and jigsaw cut where the model runs (the ``detco-gpuaug`` configs)."""
from typing import List, Optional, Tuple

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.model import ImgDataPreprocessor

from ...contracts import VIEW_INPUTS
from ...datasets.transforms.jigsaw_patches import JigsawPatches
from ..utils import BatchViewAugment, jigsaw_cut, jigsaw_params


class DetCoGPUAugDataPreprocessor(ImgDataPreprocessor):
    """mmselfsup's ``SelfSupDataPreprocessor`` (a list of views in, a list out) that also
    augments the views, batched on the device.

    It derives from mmengine's ``ImgDataPreprocessor``, as ``SelfSupDataPreprocessor`` does,
    whose one method, ``forward``, this class replaces; so it is the same class for both
    faces, and returns ``(views, data_samples)`` on both.

    [C] The default configs augment on the CPU (2 global + 2 local views cost ~2x MoCo v2's
    pipeline per image, docs/speed.md). With this preprocessor the CPU pipeline only decodes and
    crops (the global 224 px and local 255 px crops), and here, on the model's device, every view
    gets ``view_augs`` (the same configs as the CPU pipeline's: ColorJitter in a random order per
    image, grayscale, blur, flip), each image with its own random parameters; then the local views
    (inputs ``VIEW_INPUTS['l']``) are cut into the ``jigsaw`` mosaic, the layout ``JigsawPatches``
    writes on the CPU, with the same random boxes and permutations (``cell_crop_boxes``). Like the
    CPU train pipeline it replaces, it augments whatever ``training`` says.

    Random draws: per process, like the CPU path's (whose data workers mmengine seeds per rank
    and worker). mmengine seeds the global generators alike on every rank (a given seed, or
    rank 0's broadcast), so drawing from them would give every GPU the same jitter, blur, flip
    and jigsaw for the same position in its batch. Each step instead seeds its own generators
    (``step_generators``) from one draw of the global torch generator and the rank: ranks
    differ, the run seed fixes every draw, and a ``--resume`` continues the same draws because
    ``CrashSafeCheckpointHook`` restores each rank's global generator states, so this class
    keeps no random state of its own.

    Inputs are the pipeline's uint8 BGR views (``LoadImageFromFile``); the steps run on float RGB
    in [0, 255], then ``bgr_to_rgb`` and the normalisation apply as in the parent.

    Args:
        view_augs (list[dict]): CPU transform configs applied to every view, in order (the
            configs' ``view_augs``); see ``BatchViewAugment`` for the supported ones.
        jigsaw (dict, optional): The local views' ``JigsawPatches`` config. None: no local views.
        **kwargs: ``ImgDataPreprocessor``'s (``mean``, ``std``, ``bgr_to_rgb``, ...).
    """

    def __init__(self, view_augs: List[dict], jigsaw: Optional[dict] = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.augment = BatchViewAugment(view_augs)
        self.jigsaw = None
        if jigsaw is not None:
            jigsaw = dict(jigsaw)
            jigsaw.pop('type', None)
            self.jigsaw = JigsawPatches(**jigsaw)  # its argument checks

    @staticmethod
    def step_generators(device: torch.device
                        ) -> Tuple[torch.Generator, np.random.RandomState]:
        """This step's torch generator on ``device`` and numpy generator, seeded from one
        draw of the global torch generator and the rank (see the class docstring)."""
        draw = int(torch.randint(2**63 - 1, ()))
        # numpy's SeedSequence mixes the two into independent streams
        torch_seed, numpy_seed = np.random.SeedSequence([draw, get_rank()]).spawn(2)
        generator = torch.Generator(device=device)
        generator.manual_seed(int(torch_seed.generate_state(1, np.uint64)[0]))
        return generator, np.random.RandomState(np.random.MT19937(numpy_seed))

    def cut_jigsaw(self, x: torch.Tensor, view: int,
                   rng: np.random.RandomState) -> torch.Tensor:
        """(N, C, S, S) local crops -> (N, C, grid * p, grid * p) mosaics."""
        j = self.jigsaw
        side = j.grid * j.cell_size
        if tuple(x.shape[-2:]) != (side, side):
            raise ValueError(f'DetCoGPUAugDataPreprocessor: local view {view} is '
                             f'{tuple(x.shape[-2:])} px, the jigsaw needs {side}x{side} '
                             f'(grid * cell_size); set the local crop size to {side}')
        boxes, perm = jigsaw_params(x.shape[0], j.grid, j.cell_size, j.patch_size, j.shuffle,
                                    rng)
        return jigsaw_cut(x, boxes, perm, j.grid)

    def forward(self, data: dict,
                training: bool = False) -> Tuple[List[torch.Tensor], Optional[list]]:
        """Move to the device, augment, cut the local views, normalise.

        Args:
            data (dict): ``default_collate`` output: ``inputs`` (views, (N, 3, H, W) uint8 BGR)
                and ``data_samples``.
            training (bool): Unused (see the class docstring).

        Returns:
            tuple: The views (float, normalised) and the data samples.
        """
        if not isinstance(data, dict):
            raise TypeError('DetCoGPUAugDataPreprocessor: use collate_fn=default_collate')
        inputs, data_samples = self.cast_data([val for val in data.values()])
        generator, rng = self.step_generators(inputs[0].device)
        views = []
        for i, x in enumerate(inputs):
            # BGR -> RGB, pillow's channel order
            x = self.augment(x[:, [2, 1, 0]].float(), generator)
            if i in VIEW_INPUTS['l'] and self.jigsaw is not None:
                x = self.cut_jigsaw(x, i, rng)
            if not self._channel_conversion:
                x = x[:, [2, 1, 0]]
            if self._enable_normalize:
                x = (x - self.mean) / self.std
            views.append(x)
        return views, data_samples
