"""The fitted incident model, kept in the store's app state: blob kind
"incident_model", key = the embedder's name, value = IncidentModel.to_bytes().

The model keeps incident ids stable across re-fits and lets `index
--incremental` type new posts without re-clustering, so it travels with the
posts: any host that reaches the store (an Elasticsearch cluster, a copied
SQLite file) finds it, whatever its working or state folder.

Older versions kept it in a file, ``<db>.incidents.<embedder>.npz`` beside an
SQLite database (or under the state folder for Elasticsearch): such a file is
imported into the store once, when the store has no model for that embedder,
and left in place.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from glob import escape as glob_escape
from pathlib import Path

from .clustering import IncidentModel
from .store.appstate import AppState

log = logging.getLogger(__name__)

KIND = "incident_model"
TAKEDOWN_REASON = "posts were taken down after this fit"


def load_model(store: AppState, embedder_name: str) -> IncidentModel | None:
    """The stored model of this embedder; None when there is none, or when it
    cannot be read (logged: the next full fit replaces it)."""
    data = store.blob_get(KIND, embedder_name)
    if data is None:
        return None
    try:
        return IncidentModel.from_bytes(data)
    except ValueError as e:
        log.error("the stored incident model of %s is unreadable (%s): fitting afresh", embedder_name, e)
        return None


def save_model(store: AppState, model: IncidentModel, embedder_name: str | None = None) -> None:
    store.blob_put(KIND, embedder_name or model.model_name, model.to_bytes())


def stored_models(store: AppState) -> list[str]:
    """The embedders the store keeps a model for."""
    return store.blob_keys(KIND)


# -- the file an older version kept --
def legacy_path(base: Path, embedder_name: str) -> Path:
    """``<base>.incidents.<embedder>.npz``: where older versions saved the model
    (``base``: the SQLite database, or the state folder's per-store stem)."""
    return base.with_name(f"{base.name}.incidents.{re.sub(r'[^A-Za-z0-9_.-]', '_', embedder_name)}.npz")


def legacy_paths(base: Path) -> list[Path]:
    """Every model file older versions saved for ``base`` (one per embedder)."""
    return sorted(
        p for p in base.parent.glob(f"{glob_escape(base.name)}.incidents.*.npz") if not p.name.endswith(".tmp.npz")
    )


def _database(store: object) -> Path | None:
    """An embedded store's database file (where older versions saved beside), else None."""
    path = getattr(store, "path", None)
    return Path(path) if isinstance(path, str | Path) else None


def import_legacy(store: AppState, embedder_name: str, path: Path | None = None) -> bool:
    """Import an older version's model file into the store, once: only while
    the store has no model for this embedder. ``path``: that file (default:
    the one beside an SQLite database). The file stays where it is. True when
    imported; an unreadable file is logged and skipped."""
    if path is None and (db := _database(store)) is not None:
        path = legacy_path(db, embedder_name)
    if path is None or not path.is_file() or embedder_name in stored_models(store):
        return False
    try:
        model = IncidentModel.load(path)
    except ValueError as e:
        log.error("incident model file not imported: %s", e)
        return False
    save_model(store, model, embedder_name)
    log.info("imported the incident model %s into the store (the file is no longer read; it was left in place)", path)
    return True


def forget_taken_down(store: AppState, legacy: Iterable[Path] = ()) -> int:
    """After a takedown: every stored incident model (one per embedder) drops
    what the store's incident types no longer show and asks for a full
    re-fit on the next `index` (incremental or not). Old model files beside
    an SQLite database, and ``legacy`` ones, are scrubbed the same way.
    Returns how many models were rewritten."""
    incidents = store.incidents()  # type: ignore[attr-defined]  # the posts role of the same store
    done = 0
    for name in stored_models(store):
        model = load_model(store, name)
        if model is None:  # unreadable: nothing to keep of it
            store.blob_delete(KIND, name)
            continue
        model.forget_posts(incidents, TAKEDOWN_REASON)
        save_model(store, model, name)
        done += 1
    files = list(legacy)
    if (db := _database(store)) is not None:
        files += legacy_paths(db)
    for path in dict.fromkeys(p.resolve() for p in files if p.is_file()):
        try:
            model = IncidentModel.load(path)
        except ValueError as e:  # not ours to delete: say so
            log.warning("takedown: %s could not be read as an incident model, check it by hand (%s)", path, e)
            continue
        model.forget_posts(incidents, TAKEDOWN_REASON)
        model.save(path)
        done += 1
    if done and (purge := getattr(store, "purge_deleted_bytes", None)) is not None:
        purge()  # the models' old bytes must not outlive the takedown in freed pages or the log
    return done
