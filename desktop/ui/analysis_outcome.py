"""What one analysis of one image produced, as the window shows it and the records store it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from desktop.core.body_part import BodyPartCheck
    from desktop.core.imaging import XRayImage
    from desktop.core.model_card import ModelCard
    from desktop.core.prediction import Prediction

__all__ = ["AnalysisOutcome"]


@dataclass(frozen=True)
class AnalysisOutcome:
    """The models' answers for one image and study type, each with its model card.

    ``check`` and ``warnings`` carry the body-part guard's answer and what it means for these
    models; ``skipped`` says no model ran because the image does not look like an X-ray.
    """

    image: XRayImage
    body_part: str
    pairs: tuple[tuple[Prediction, ModelCard | None], ...]
    unavailable: tuple[tuple[str, str], ...] = ()
    elapsed_ms: float = 0.0
    check: BodyPartCheck | None = None
    warnings: tuple[str, ...] = ()
    skipped: bool = False

    @property
    def predictions(self) -> tuple[Prediction, ...]:
        return tuple(p for p, _ in self.pairs)

    def heatmap_sources(self) -> list[tuple[str, str]]:
        """(model id, model name) for every prediction that carries a heat map."""
        return [(p.model_id, p.model_name) for p in self.predictions if p.heatmap is not None]

    def heatmap_for(self, model_id: str | None) -> np.ndarray | None:
        for prediction in self.predictions:
            if prediction.heatmap is not None and (model_id is None or prediction.model_id == model_id):
                return prediction.heatmap
        return None
