"""ElasticsearchStore: the role mixins composed behind the Store interface."""

from __future__ import annotations

from .alerts import AlertsMixin
from .analytics import AnalyticsMixin
from .appstate import ESAppState
from .connection import make_client, parse_es_url
from .derived import DerivedMixin
from .integrity import IntegrityMixin
from .posts import PostsMixin
from .schema import SchemaMixin
from .search import SearchMixin
from .takedowns import TakedownsMixin


class ElasticsearchStore(
    PostsMixin,
    DerivedMixin,
    SearchMixin,
    AnalyticsMixin,
    AlertsMixin,
    TakedownsMixin,
    IntegrityMixin,
    SchemaMixin,
    ESAppState,
):
    def __init__(self, url: str, client=None, refresh: bool = True):
        """``url``: see connection.parse_es_url; ``client``: an Elasticsearch
        client to use (and not close); ``refresh``: refresh after every write."""
        self.url = url
        cfg = parse_es_url(url)
        self.prefix = cfg["prefix"]
        self.replicas = cfg["replicas"]
        self.shards = cfg["shards"]
        self.es = client if client is not None else make_client(cfg)
        self._own_client = client is None
        self.auto_refresh = refresh
        self.alias = f"{self.prefix}-posts"
        self.template = f"{self.prefix}-posts"
        self.incidents_index = f"{self.prefix}-incidents"
        self.meta_index = f"{self.prefix}-meta"
        self.saved_index = f"{self.prefix}-saved-searches"
        self.takedowns_index = f"{self.prefix}-takedowns"  # v4
        self.state_index = f"{self.prefix}-state"
        self.blobs_index = f"{self.prefix}-blobs"
        self._vec_fields = set()
        self._vec_cache = {}
        self._setup()
