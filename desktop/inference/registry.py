"""Find the models shipped in ``models/<id>/`` and decide which of them can be trusted.

A model is available only when its card parses, ``model.onnx`` hashes to the card's sha256
and ONNX Runtime agrees with the card about input and output names. Anything else lands in
:attr:`ModelRegistry.unavailable` with a sentence saying why; a broken model never stops the
app from starting with the others.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from desktop import paths
from desktop.core.files import file_sha256
from desktop.core.model_card import CardError, ModelCard, load_card
from desktop.inference.session import ModelLoadError, ModelSession

__all__ = ["LoadedModel", "ModelRegistry", "UnavailableModel"]

log = logging.getLogger(__name__)

CARD_FILE = "model.json"
MODEL_FILE = "model.onnx"


@dataclass(frozen=True)
class LoadedModel:
    """A verified model, ready to run."""

    card: ModelCard
    folder: Path
    session: ModelSession

    @property
    def id(self) -> str:
        return self.card.id

    @property
    def is_image_model(self) -> bool:
        return self.card.is_image_model


@dataclass(frozen=True)
class UnavailableModel:
    """A model folder that could not be used, and why (one user-facing sentence)."""

    model_id: str
    folder: Path
    reason: str


def _load_folder(folder: Path, *, threads: int | None) -> LoadedModel | UnavailableModel | None:
    card_path = folder / CARD_FILE
    onnx_path = folder / MODEL_FILE
    if not card_path.is_file():
        if onnx_path.exists():
            return UnavailableModel(folder.name, folder, f"{MODEL_FILE} has no model card ({CARD_FILE}) next to it")
        return None  # not a model folder at all (e.g. a README or a stray directory)
    try:
        card = load_card(card_path)
    except CardError as exc:
        return UnavailableModel(folder.name, folder, f"its model card is invalid: {exc}")
    if card.id != folder.name:
        # The folder name is the id users and settings refer to; two folders must never claim one id.
        return UnavailableModel(
            folder.name, folder, f"its card id {card.id!r} does not match the folder name {folder.name!r}"
        )
    if not onnx_path.is_file():
        return UnavailableModel(card.id, folder, f"{MODEL_FILE} is missing")
    try:
        actual = file_sha256(onnx_path)
    except OSError as exc:
        return UnavailableModel(card.id, folder, f"{MODEL_FILE} cannot be read ({exc.strerror or exc})")
    if actual != card.sha256:
        return UnavailableModel(
            card.id, folder, f"{MODEL_FILE} does not match the sha256 in its card (file changed or corrupted)"
        )
    try:
        session = ModelSession(onnx_path, card, threads=threads)
    except ModelLoadError as exc:
        return UnavailableModel(card.id, folder, exc.reason)
    return LoadedModel(card=card, folder=folder, session=session)


@dataclass(frozen=True)
class ModelRegistry:
    """The outcome of one discovery pass: usable models and refused ones."""

    models_dir: Path
    available: tuple[LoadedModel, ...] = ()
    unavailable: tuple[UnavailableModel, ...] = ()

    @classmethod
    def discover(cls, models_dir: Path | None = None, *, threads: int | None = None) -> ModelRegistry:
        """Load every ``<models_dir>/<id>/`` that holds a model; never raises for a bad model."""
        root = Path(models_dir) if models_dir is not None else paths.models_dir()
        if not root.is_dir():
            log.warning("models folder %s does not exist", root)
            return cls(models_dir=root)
        available: list[LoadedModel] = []
        unavailable: list[UnavailableModel] = []
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
            result = _load_folder(folder, threads=threads)
            if isinstance(result, LoadedModel):
                log.info("loaded model %s %s from %s", result.card.id, result.card.version, folder)
                available.append(result)
            elif isinstance(result, UnavailableModel):
                log.warning("model %s is unavailable: %s", result.model_id, result.reason)
                unavailable.append(result)
        return cls(models_dir=root, available=tuple(available), unavailable=tuple(unavailable))

    @property
    def image_models(self) -> tuple[LoadedModel, ...]:
        """Diagnosis models that read images (helpers such as the body-part guard excluded)."""
        return tuple(m for m in self.available if m.is_image_model and m.card.role == "diagnosis")

    def helper(self, role: str) -> LoadedModel | None:
        """The available helper model with this card role ("body_part", "joint_locator")."""
        return next((m for m in self.available if m.card.role == role), None)

    def for_body_part(self, part: str) -> tuple[LoadedModel, ...]:
        """Image models for one study type; tabular models are never run on images."""
        return tuple(m for m in self.image_models if m.card.body_part == part)

    def get(self, model_id: str) -> LoadedModel:
        """The available model with this id; ``KeyError`` with a readable message otherwise."""
        for model in self.available:
            if model.card.id == model_id:
                return model
        for broken in self.unavailable:
            if broken.model_id == model_id:
                raise KeyError(f"model {model_id!r} is unavailable: {broken.reason}")
        known = ", ".join(m.card.id for m in self.available) or "none"
        raise KeyError(f"no model {model_id!r} in {self.models_dir} (available: {known})")
