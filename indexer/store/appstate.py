"""The app-state role of a store: small documents the application keeps
beside the posts (users, API tokens, source run state, delivery log, the
fitted incident model), on whichever backend holds the posts.

Each backend implements the `AppState` protocol once (`sqlite/appstate.py`,
the Elasticsearch one); features keep typed records on top of it with `StateRepo`, so
a new kind of state needs no schema change and no code in either backend.
Keys are short strings chosen by the caller (an id, an e-mail address, a hash).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

MAX_KEY = 256  # bytes: Elasticsearch ids are limited to 512, with the kind in front


def check_key(kind: str, key: str) -> None:
    if not kind or not kind.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"state kind must be a plain word, got {kind!r}")
    if not key or len(key.encode()) > MAX_KEY:
        raise ValueError(f"state key must be 1..{MAX_KEY} bytes, got {len(key.encode())}")


@runtime_checkable
class AppState(Protocol):
    """Documents by (kind, key); blobs (bytes) beside them."""

    def state_get(self, kind: str, key: str) -> dict | None: ...

    def state_put(self, kind: str, key: str, doc: dict) -> None:
        """Insert or replace."""

    def state_create(self, kind: str, key: str, doc: dict) -> bool:
        """Insert unless the key exists; True when this call inserted it.
        Atomic across processes: the once-only guard of deliveries and claims."""

    def state_delete(self, kind: str, key: str) -> bool: ...

    def state_list(self, kind: str) -> list[tuple[str, dict]]:
        """Every (key, doc) of a kind, by key."""

    def state_next_id(self, kind: str) -> int:
        """1, 2, 3, … per kind, never reused (ids for users, sources, …)."""

    def blob_put(self, kind: str, key: str, data: bytes) -> None: ...

    def blob_get(self, kind: str, key: str) -> bytes | None: ...

    def blob_delete(self, kind: str, key: str) -> bool: ...

    def blob_keys(self, kind: str) -> list[str]: ...


class StateRepo(Generic[M]):
    """Typed records of one kind: pydantic models in, pydantic models out.

    users = StateRepo(store, "user", User)
    users.put("1", User(...)); users.get("1")
    """

    def __init__(self, state: AppState, kind: str, model: type[M]):
        self.state = state
        self.kind = kind
        self.model = model

    def get(self, key: str) -> M | None:
        doc = self.state.state_get(self.kind, key)
        return None if doc is None else self.model.model_validate(doc)

    def put(self, key: str, record: M) -> None:
        self.state.state_put(self.kind, key, record.model_dump(mode="json"))

    def create(self, key: str, record: M) -> bool:
        return self.state.state_create(self.kind, key, record.model_dump(mode="json"))

    def delete(self, key: str) -> bool:
        return self.state.state_delete(self.kind, key)

    def items(self) -> list[tuple[str, M]]:
        return [(k, self.model.model_validate(d)) for k, d in self.state.state_list(self.kind)]

    def __iter__(self) -> Iterator[M]:
        return iter(m for _, m in self.items())

    def next_id(self) -> int:
        return self.state.state_next_id(self.kind)
