"""Moved to ``indexer.store.es.appstate``; this name stays for old imports.

The old name is the same module object (not a copy of its names), so setting
an attribute through it (``appstate_es.PART = ...``) still takes effect."""

import sys

from .es import appstate

sys.modules[__name__] = appstate
