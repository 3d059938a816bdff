"""The one entry point the GUI and the command line share: load a file, pick models, predict.

Qt-free on purpose: the GUI calls it from a worker thread, the CLI calls it directly, and both
therefore apply the same model selection rules, including what the body-part guard decides
(see :mod:`desktop.core.body_part`) and where the knee joints are (see
:mod:`desktop.inference.regional`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from desktop.core.body_part import (
    GUARD_LABELS,
    BodyPartCheck,
    GuardedAnalysis,
    body_part_warnings,
    preselected_study_type,
)
from desktop.core.imaging import XRayImage, load_image
from desktop.core.knee_sides import FilmSides, with_clinic_display, with_header_sides
from desktop.core.prediction import Prediction
from desktop.inference.guard_views import GUARD_ROLE, read_guard
from desktop.inference.predictor import PredictionError
from desktop.inference.regional import ModelRun, run_image_models, usable_locator
from desktop.inference.registry import LoadedModel, ModelRegistry

__all__ = ["AnalysisService"]

log = logging.getLogger(__name__)


def _usable_guard(registry: ModelRegistry) -> LoadedModel | None:
    """The registry's body-part guard, if the app can read its answer.

    A guard whose labels are not exactly the known ones is ignored: reading an unknown class
    as a study type could preselect the wrong models, which is worse than having no guard.
    """
    model = registry.helper(GUARD_ROLE)
    if model is None:
        return None
    if not model.is_image_model:
        log.warning("body-part guard %s reads no images; ignored", model.id)
        return None
    if sorted(model.card.labels) != sorted(GUARD_LABELS):
        log.warning("body-part guard %s has labels %s, expected %s; ignored", model.id, model.card.labels, GUARD_LABELS)
        return None
    return model


class AnalysisService:
    """Decodes images, asks the body-part guard, finds knee joints and runs the image models."""

    def __init__(self, registry: ModelRegistry, *, clinic_display: FilmSides | None = None) -> None:
        self._registry = registry
        self._guard = _usable_guard(registry)
        self._locator = usable_locator(registry)
        # How the clinic's films are shown when it vouches for one display (see
        # :mod:`desktop.core.knee_sides`); None: knees of a film without side headers stay
        # named by their place on the image. The clinic settings set it; read per analysis.
        self.clinic_display = clinic_display

    @property
    def registry(self) -> ModelRegistry:
        return self._registry

    @property
    def has_guard(self) -> bool:
        """True when a body-part guard model is installed and usable."""
        return self._guard is not None

    @property
    def has_joint_locator(self) -> bool:
        """True when a knee joint locator is installed, so knee models read each joint."""
        return self._locator is not None

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
            if model.card.role != "diagnosis":
                # Helpers (the body-part guard, the joint locator) answer the app, not the doctor.
                raise ValueError(f"model {model_id!r} is a {model.card.role} helper, not a diagnosis model")
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
        """Run the selected image models (see :meth:`select`) on one decoded image; no guard."""
        models = self.select(body_part=body_part, model_ids=model_ids)
        return self.run_models(models, image, with_heatmap=with_heatmap).predictions

    def run_models(
        self, models: Sequence[LoadedModel], image: XRayImage, *, with_heatmap: bool = True, check: BodyPartCheck | None = None
    ) -> ModelRun:
        """``models`` on one image, knee-joint models per located joint (see :mod:`~desktop.inference.regional`);
        with the guard's ``check``, models of the body part it is sure of read the film upright."""
        if not models:
            log.info("no image models to run on %s", image.source_path)
        turns = check.upright_turns if check is not None else {}
        run = run_image_models(models, image.pixels, locator=self._locator, with_heatmap=with_heatmap, upright_turns=turns)
        if image.film_sides is not None:
            return replace(run, joints=with_header_sides(run.joints, image.film_sides))
        # Only where the file says nothing about sides: a header, even a partial one, speaks for this film.
        return replace(run, joints=with_clinic_display(run.joints, self.clinic_display))

    def check_body_part(self, image: XRayImage) -> BodyPartCheck | None:
        """What the guard says the image shows; None without a usable guard.

        A guard that fails on this image is logged and treated as absent: the diagnosis
        models must still run, exactly as they did before the guard existed.
        """
        if self._guard is None:
            return None
        try:
            reading = read_guard(self._guard, image.pixels)
        except PredictionError as exc:
            log.warning("body-part guard failed on %s: %s", image.source_path, exc)
            return None
        check = BodyPartCheck.from_prediction(reading.prediction, turn=reading.turn, colour_share=image.colour_share)
        log.info("body-part guard: %s", check.verdict())
        return check

    def analyse_guarded(
        self,
        image: XRayImage,
        *,
        body_part: str | None = None,
        model_ids: Sequence[str] | None = None,
        default_body_part: str | None = None,
        check: BodyPartCheck | None = None,
        with_heatmap: bool = True,
    ) -> GuardedAnalysis:
        """Ask the guard first, then run the models, and say when they do not fit the image.

        With an explicit ``body_part`` or ``model_ids`` those models run whatever the guard
        says; it only warns. Otherwise the guard picks: a confident study type runs that type's
        models, a confident "not an X-ray" runs nothing, and an unsure or missing guard falls
        back to ``default_body_part`` (None: every image model). ``check`` reuses a guard
        answer already computed for this image (a re-run after the user changed study type).
        """
        if check is None:
            check = self.check_body_part(image)
        explicit = body_part is not None or bool(model_ids)
        chosen_by_guard = False
        if not explicit:
            picked = preselected_study_type(check)
            if picked is not None:
                body_part, chosen_by_guard = picked, True
            elif check is not None and not check.looks_like_xray:
                return GuardedAnalysis(
                    predictions=(), check=check, skipped=True, warnings=body_part_warnings(check, [])
                )
            else:
                body_part = default_body_part
        models = self.select(body_part=body_part, model_ids=model_ids)
        run = self.run_models(models, image, with_heatmap=with_heatmap, check=check)
        # From the models, not their answers: knee models that found no joint still ran "for" it.
        guard_warnings = body_part_warnings(check, [m.card.body_part for m in models])
        return GuardedAnalysis(
            predictions=run.predictions,
            check=check,
            body_part=body_part,
            chosen_by_guard=chosen_by_guard,
            warnings=guard_warnings + run.warnings,
            joints=run.joints,
        )
