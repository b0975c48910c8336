"""Incident-type clustering: BERTopic-style, with swappable parts.

reduce (PCA / none, plus LSA of the posts' words) -> cluster (Ward into
sqrt(n/4) types, or average linkage with outliers kept apart) -> represent
(seed types of the post's taxonomy pack above calibrated thresholds, else
c-TF-IDF keyphrase labels; representative posts) -> stable ids across re-fits
-> incremental assignment. recurring.py
turns assignments into per-company recurring failures with trend flags.
"""

from .cluster import AverageLinkageClusterer, Clusterer, WardClusterer
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
    "WardClusterer",
    "recurring_failures",
    "taxonomy_prototypes",
]
