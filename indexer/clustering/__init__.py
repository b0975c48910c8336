"""Incident-type clustering: BERTopic-style, with swappable parts.

reduce (PCA / none) -> cluster (average linkage, outliers kept apart) ->
represent (c-TF-IDF keywords, seed-taxonomy or keyword labels, representative
posts) -> stable ids across re-fits -> incremental assignment. recurring.py
turns assignments into per-company recurring failures with trend flags.
"""

from .cluster import AverageLinkageClusterer, Clusterer
from .model import ClusteringConfig, ClusteringResult, IncidentModel, PreviousClusters
from .recurring import RecurringFailure, Trend, TrendRule, recurring_failures
from .reduce import NoReduction, PCAReduction, Reducer
from .represent import TaxonomyPrototype, taxonomy_prototypes

__all__ = [
    "AverageLinkageClusterer",
    "Clusterer",
    "ClusteringConfig",
    "ClusteringResult",
    "IncidentModel",
    "NoReduction",
    "PCAReduction",
    "PreviousClusters",
    "RecurringFailure",
    "Reducer",
    "TaxonomyPrototype",
    "Trend",
    "TrendRule",
    "recurring_failures",
    "taxonomy_prototypes",
]
