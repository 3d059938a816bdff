"""The one entry point the GUI and the command line share: load a file, pick models, predict.

Qt-free on purpose: the GUI calls it from a worker thread, the CLI calls it directly, and both
therefore apply the same model selection rules.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from desktop.core.imaging import XRayImage, load_image
from desktop.core.prediction import Prediction
from desktop.inference.predictor import predict_image
from desktop.inference.registry import LoadedModel, ModelRegistry

__all__ = ["AnalysisService"]

log = logging.getLogger(__name__)


class AnalysisService:
    """Decodes images and runs the registry's image models on them."""

    def __init__(self, registry: ModelRegistry) -> None:
        self._registry = registry

    @property
    def registry(self) -> ModelRegistry:
        return self._registry

    def load(self, path: str | Path) -> XRayImage:
        """Decode an X-ray file; raises ``ImageLoadError`` with a user-facing sentence."""
        return load_image(path)

    def models_for(self, body_part: str | None) -> tuple[LoadedModel, ...]:
        """Image models for a study type, or every image model when ``body_part`` is None."""
        if body_part is None:
            return self._registry.image_models
        return self._registry.for_body_part(body_part)

    def select(
        self, *, body_part: str | None = None, model_ids: Sequence[str] | None = None
    ) -> tuple[LoadedModel, ...]:
        """The models :meth:`analyse` would run.

        Explicit ``model_ids`` win; each must be an available image model (``KeyError`` for an
        unknown or unavailable id, ``ValueError`` for a tabular model or one made for a
        different body part than ``body_part``).
        """
        if not model_ids:
            return self.models_for(body_part)
        chosen = []
        for model_id in model_ids:
            model = self._registry.get(model_id)
            if not model.is_image_model:
                raise ValueError(f"model {model_id!r} is a {model.card.task} model and cannot read images")
            if body_part is not None and model.card.body_part != body_part:
                raise ValueError(f"model {model_id!r} is for {model.card.body_part} studies, not {body_part}")
            if all(model.id != other.id for other in chosen):
                chosen.append(model)
        return tuple(chosen)

    def analyse(
        self,
        image: XRayImage,
        *,
        body_part: str | None = None,
        model_ids: Sequence[str] | None = None,
        with_heatmap: bool = True,
    ) -> tuple[Prediction, ...]:
        """Run the selected image models (see :meth:`select`) on one decoded image."""
        models = self.select(body_part=body_part, model_ids=model_ids)
        if not models:
            log.info("no image models for body part %s", body_part)
        return tuple(predict_image(model, image.pixels, with_heatmap=with_heatmap) for model in models)
