# Copyright (c) detco_mm contributors. All rights reserved.
from .features import attention_map, load_image, load_query_backbone, nearest_neighbours
from .knn import (build_knn_loader, extract_stage_features, knn_of_config, per_stage_knn,
                  reestimate_bn, weighted_knn_top1)
from .similarity import (batch_similarities, collect_similarities, load_detco,
                         similarity_moments, summarize)

__all__ = [
    'attention_map', 'batch_similarities', 'build_knn_loader', 'collect_similarities',
    'extract_stage_features', 'knn_of_config', 'load_detco', 'load_image',
    'load_query_backbone', 'nearest_neighbours', 'per_stage_knn', 'reestimate_bn',
    'similarity_moments', 'summarize', 'weighted_knn_top1'
]
