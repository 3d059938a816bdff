"""What one analysis of one image produced, as the window shows it and the records store it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from desktop.core.joint_regions import patient_sides, side_label

if TYPE_CHECKING:
    from desktop.core.body_part import BodyPartCheck
    from desktop.core.imaging import XRayImage
    from desktop.core.joint_regions import JointRegion
    from desktop.core.model_card import ModelCard
    from desktop.core.prediction import Prediction

__all__ = ["AnalysisOutcome"]


@dataclass(frozen=True)
class AnalysisOutcome:
    """The models' answers for one image and study type, each with its model card.

    ``check`` and ``warnings`` carry the body-part guard's answer and what it means for these
    models; ``skipped`` says no model ran because the image does not look like an X-ray.
    ``joints`` are the knee joints the knee models read (``()``: none was found, so they did
    not run; None: nobody looked).
    """

    image: XRayImage
    body_part: str
    pairs: tuple[tuple[Prediction, ModelCard | None], ...]
    unavailable: tuple[tuple[str, str], ...] = ()
    elapsed_ms: float = 0.0
    check: BodyPartCheck | None = None
    warnings: tuple[str, ...] = ()
    skipped: bool = False
    joints: tuple[JointRegion, ...] | None = None

    @property
    def predictions(self) -> tuple[Prediction, ...]:
        return tuple(p for p, _ in self.pairs)

    @property
    def no_joint_found(self) -> bool:
        """The locator looked and found no knee joint, so the knee models did not run."""
        return self.joints is not None and not self.joints

    def heatmap_sources(self) -> list[tuple[str, str]]:
        """(result key, display name) for every prediction that carries a heat map; a knee
        model's answers are one source per joint ("Knee KL — image left", "… — right knee (image left)")."""
        sides = patient_sides(self.joints)
        return [
            (p.result_key,
             f"{p.model_name} \u2014 {side_label(p.region_side, sides.get(p.region_side))}" if p.region_side else p.model_name)
            for p in self.predictions
            if p.heatmap is not None
        ]

    def heatmap_prediction(self, key: str | None) -> Prediction | None:
        """The prediction whose heat map ``key`` names (a result key or a model id); the first
        with a map for None."""
        for prediction in self.predictions:
            if prediction.heatmap is not None and key in (None, prediction.result_key, prediction.model_id):
                return prediction
        return None

    def heatmap_for(self, key: str | None) -> np.ndarray | None:
        prediction = self.heatmap_prediction(key)
        return prediction.heatmap if prediction is not None else None
