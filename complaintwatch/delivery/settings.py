"""Per-user delivery settings in the app state."""

from __future__ import annotations

from indexer.store.appstate import AppState, StateRepo

from .models import DeliverySettings

KIND = "delivery_settings"


def delivery_settings(state: AppState, user_id: int) -> DeliverySettings:
    """The user's settings; the defaults (mail, spikes at once + daily digest) when never saved."""
    return StateRepo(state, KIND, DeliverySettings).get(str(user_id)) or DeliverySettings()


def save_delivery_settings(state: AppState, user_id: int, settings: DeliverySettings) -> None:
    StateRepo(state, KIND, DeliverySettings).put(str(user_id), settings)
