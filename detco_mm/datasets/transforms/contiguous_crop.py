# Copyright (c) detco_mm contributors. All rights reserved.
"""mmselfsup's RandomResizedCrop without its slow pillow path (the detco-gpuaug configs)."""
import mmcv
import numpy as np


class ContiguousCropMixin:
    """mmselfsup ``RandomResizedCrop``, same random draws and same output, faster with pillow.
    ``detco_mm.backends.mmselfsup.ContiguousRandomResizedCrop`` combines it with that class
    (``get_params``, ``size``, ``scale``, ``ratio``, ...); both faces use it, as both build the
    data pipeline in mmselfsup's scope.

    [C] ``mmcv.imcrop`` returns a strided view, and pillow's ``Image.fromarray`` (called by
    ``mmcv.imresize(backend='pillow')``) of a strided array is slow: on ImageNet photos about
    6 ms per crop against 0.2 ms for a contiguous copy (pillow 13, one core). Once the
    crop is made contiguous, the resize is the same call, so the output is identical.
    With the augmentation on the device, the crops are most of the CPU work (docs/speed.md).
    """

    def transform(self, results: dict) -> dict:
        img = results['img']
        ymin, xmin, ymax, xmax = self.get_params(img, self.scale, self.ratio, self.max_attempts)
        crop = np.ascontiguousarray(img[ymin:ymax + 1, xmin:xmax + 1])
        results['img'] = mmcv.imresize(crop, tuple(self.size[::-1]),
                                       interpolation=self.interpolation, backend=self.backend)
        results['img_shape'] = results['img'].shape[:2]
        return results
