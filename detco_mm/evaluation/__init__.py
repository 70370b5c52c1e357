# Copyright (c) detco_mm contributors. All rights reserved.
from .features import attention_map, load_image, load_query_backbone, nearest_neighbours
from .knn import (
    build_knn_loader,
    extract_stage_features,
    knn_of_config,
    per_stage_knn,
    reestimate_bn,
    weighted_knn_top1,
)
from .readouts import (
    binomial_se,
    class_chance,
    class_readouts,
    fixed_views,
    linear_probe_top1,
    per_stage_retrieval,
    view_retrieval_top1,
)
from .similarity import (
    batch_similarities,
    collect_similarities,
    load_detco,
    similarity_moments,
    summarize,
)

__all__ = [
    'attention_map', 'batch_similarities', 'binomial_se', 'build_knn_loader', 'class_chance',
    'class_readouts', 'collect_similarities', 'extract_stage_features', 'fixed_views',
    'knn_of_config', 'linear_probe_top1', 'load_detco', 'load_image', 'load_query_backbone',
    'nearest_neighbours', 'per_stage_knn', 'per_stage_retrieval', 'reestimate_bn',
    'similarity_moments', 'summarize', 'view_retrieval_top1', 'weighted_knn_top1'
]
