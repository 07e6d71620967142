"""What the API holds: the circle catalogue and the promoted bundle's version (if any)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from recsys.bundle.registry import ModelRegistry
from recsys.circles import CircleCatalogue
from recsys.errors import BundleError
from serving.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class AppState:
    settings: Settings
    catalogue: CircleCatalogue
    registry: ModelRegistry
    promoted_version: str | None

    @classmethod
    def load(cls, settings: Settings, catalogue: CircleCatalogue) -> AppState:
        registry = ModelRegistry(settings.models_dir)
        version = None
        try:
            version = registry.promoted()
        except BundleError as exc:
            logger.warning("no usable promoted bundle: %s", exc)
        logger.info("serving with promoted bundle %s", version or "(none)")
        return cls(settings, catalogue, registry, version)


def get_state(request: Request) -> AppState:
    return request.app.state.recsys


StateDep = Annotated[AppState, Depends(get_state)]
