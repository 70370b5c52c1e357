# Copyright (c) detco_mm contributors. All rights reserved.
"""What the hooks and the log processor share."""
from mmengine.model import is_model_wrapper
from torch import nn


def unwrap_model(model: nn.Module) -> nn.Module:
    """The model inside a DDP/FSDP wrapper (``runner.model`` in a distributed run), or
    ``model`` itself."""
    return model.module if is_model_wrapper(model) else model
