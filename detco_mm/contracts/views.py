# Copyright (c) detco_mm contributors. All rights reserved.
"""The views of an image and their order in a batch's ``inputs``.

The configs' ``MultiViewWithMeta`` packs four views of each image, in this order:
global query, global key, local query, local key [P 3.3, Fig. 2]. ``'g'`` is the global
image, ``'l'`` the local patch set (a jigsaw mosaic, ``detco_mm.contracts.mosaic``).
"""
from typing import Dict, Tuple

# Positions of (query, key) of each view in ``inputs``.
VIEW_INPUTS: Dict[str, Tuple[int, int]] = {'g': (0, 1), 'l': (2, 3)}

# Readable name of each input position, e.g. 0 -> 'global q', 3 -> 'local k'.
VIEW_NAMES: Dict[int, str] = {
    i: f'{"global" if v == "g" else "local"} {role}'
    for v, idx in VIEW_INPUTS.items() for role, i in zip(('q', 'k'), idx)
}
