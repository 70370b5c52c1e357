# Copyright (c) detco_mm contributors. All rights reserved.
"""Faces of DetCo for toolboxes other than mmselfsup (whose registration is ``import
detco_mm`` itself). Each module here is imported on its own, by the configs of its toolbox
(``custom_imports``), so that nothing imports a toolbox that is not installed."""
