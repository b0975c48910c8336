"""The server backend: Elasticsearch 8, behind the same Store interface as SQLite.

Modules by role:

- ``connection``: the store URL, the client, bulk/paged requests, the refresh policy;
- ``schema``: index layout, mappings, version checks and migrations, re-index;
- ``documents``: Post / incident / saved search <-> document (pure functions);
- ``queries``: query, kNN, filter and aggregation request bodies (pure functions);
- ``aggregations``: aggregation responses -> the dataclasses the pages need;
- role mixins: ``posts`` (writes, reads), ``derived`` (vectors, analysis, stance,
  incident types, the change journal), ``search`` (text, vector, hybrid, facets),
  ``analytics`` (company and incident aggregates), ``alerts`` (saved searches),
  ``takedowns``, ``integrity`` (`check`), ``appstate``;
- ``store``: ElasticsearchStore, the mixins composed.
"""

from __future__ import annotations

from .connection import DEFAULT_PREFIX, SCHEMES, parse_es_url
from .documents import doc_key, stems_field, title_stems, vector_field
from .schema import SCHEMA_VERSION, SchemaError
from .store import ElasticsearchStore

__all__ = [
    "DEFAULT_PREFIX",
    "SCHEMA_VERSION",
    "SCHEMES",
    "ElasticsearchStore",
    "SchemaError",
    "doc_key",
    "parse_es_url",
    "stems_field",
    "title_stems",
    "vector_field",
]
