"""Help > About: version, the models found (and why some were refused), the disclaimer."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtWidgets import QMessageBox, QWidget

from desktop import APP_NAME, __version__
from desktop.ui.formatting import DISCLAIMER, study_type_name

__all__ = ["about_html", "show_about"]


def about_html(registry: Any | None) -> str:
    """Rich text for the About box; ``registry`` is a ModelRegistry or None."""
    parts = [
        f"<h3>{APP_NAME} {html.escape(__version__)}</h3>",
        "<p>Offline X-ray assistant: every model runs on this computer; no image leaves it.</p>",
        "<p><b>Models</b></p><ul>",
    ]
    available = getattr(registry, "available", ()) or ()
    unavailable = getattr(registry, "unavailable", ()) or ()
    for model in available:
        card = model.card
        parts.append(
            f"<li>{html.escape(card.name)} <small>({html.escape(card.id)} v{html.escape(card.version)},"
            f" {html.escape(study_type_name(card.body_part))})</small> \u2014 available</li>"
        )
    for model in unavailable:
        parts.append(
            f"<li style='color:#8a3b12'>{html.escape(model.model_id)} \u2014 unavailable:"
            f" {html.escape(model.reason)}</li>"
        )
    if not available and not unavailable:
        parts.append("<li>No models found.</li>")
    parts.append("</ul>")
    parts.append(f"<p><b>{html.escape(DISCLAIMER)}</b></p>")
    return "".join(parts)


def show_about(parent: QWidget, registry: Any | None) -> None:
    """The modal About box (only ever opened by the user, never by the workflow)."""
    QMessageBox.about(parent, f"About {APP_NAME}", about_html(registry))
