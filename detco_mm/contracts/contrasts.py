# Copyright (c) detco_mm contributors. All rights reserved.
"""The contrasts of DetCo: which view's query meets which view's key [P eq. 1-5]."""
from typing import Dict, Tuple

# Each contrast pairs a query view with a key view (``detco_mm.contracts.views``); its
# negatives come from the queue of the key view [P eq. 2, 4, 5].
CONTRASTS: Dict[str, Tuple[str, str]] = {
    'g2g': ('g', 'g'),  # eq. 2: global query vs global key
    'l2l': ('l', 'l'),  # eq. 5: local query vs local key
    'l2g': ('l', 'g'),  # eq. 4: local query vs global key ("global<->local")
    'g2l': ('g', 'l'),  # [C] optional, off by default: global query vs local key
}
# The contrasts of the paper's loss [P eq. 1].
DEFAULT_CONTRASTS = ('g2g', 'l2l', 'l2g')
