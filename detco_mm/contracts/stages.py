# Copyright (c) detco_mm contributors. All rights reserved.
"""The backbone stages DetCo contrasts at [P 3.2, hierarchical intermediate contrast]."""

# Names of ResNet's four stage outputs, in the order the backbone returns them: mmselfsup's
# ResNet with ``out_indices=(1, 2, 3, 4)`` (0 is its stem), mmpretrain's with (0, 1, 2, 3).
STAGES = ('res2', 'res3', 'res4', 'res5')
# Stage loss weights of the paper [P 6.5, Table 15(e): 0.1, 0.4, 0.7, 1.0 for res2..res5].
STAGE_LOSS_WEIGHTS = (0.1, 0.4, 0.7, 1.0)
