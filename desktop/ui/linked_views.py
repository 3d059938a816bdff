"""Two viewers that move together, for comparing a follow-up film with the earlier one.

Zooming into the medial joint space of the earlier knee should show the same place on the
later film without doing it twice. Two films are rarely framed alike (another detector, the
knees further apart, a different pixel size), so the link works through a reference frame on
each image: the knee joints when both studies have them (the box around all of them), else
the whole image. The same point of the frame sits at each viewer's centre, and the frame has
the same size on screen; window/level is copied as it is (it works on each image's own 0-1
display range). A fitted view makes the other fit too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import QObject, QPointF, QRectF

from desktop.core.joint_regions import JointRegion
from desktop.ui.image_view import ImageView

__all__ = ["LinkedViews", "joints_frame"]


def joints_frame(joints: Sequence[JointRegion] | None) -> QRectF | None:
    """The box around every joint, in image pixels; None without joints."""
    if not joints:
        return None
    tops = [j.box[0] for j in joints]
    lefts = [j.box[1] for j in joints]
    bottoms = [j.box[0] + j.box[2] for j in joints]
    rights = [j.box[1] + j.box[3] for j in joints]
    return QRectF(min(lefts), min(tops), max(rights) - min(lefts), max(bottoms) - min(tops))


class LinkedViews(QObject):
    """While enabled, zoom, pan and window/level on either viewer are copied to the other.

    ``frames``: a reference rectangle on each image, in image pixels (None: whole images).
    """

    def __init__(self, first: ImageView, second: ImageView, *, frames: tuple[QRectF, QRectF] | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.views = (first, second)
        self._frames = frames
        self._enabled = True
        self._copying = False  # the copy's own signals must not copy back
        for view in self.views:
            view.zoom_changed.connect(lambda _zoom, v=view: self._follow(v))
            view.horizontalScrollBar().valueChanged.connect(lambda _value, v=view: self._follow(v))
            view.verticalScrollBar().valueChanged.connect(lambda _value, v=view: self._follow(v))
            view.window_level_changed.connect(lambda _window, v=view: self._follow_window(v))

    def set_enabled(self, enabled: bool) -> None:
        """Linking again brings the later view to where the earlier one is."""
        self._enabled = enabled
        if enabled:
            self._follow(self.views[0])
            self._follow_window(self.views[0])

    def _other(self, view: ImageView) -> ImageView:
        return self.views[1] if view is self.views[0] else self.views[0]

    def frame_on_screen(self, view: ImageView) -> QRectF:
        """The view's reference frame in scene coordinates (rotation included)."""
        frame = self._frames[self.views.index(view)] if self._frames is not None else view.image_item.boundingRect()
        return view.image_item.mapRectToScene(frame)

    def centre_share(self, view: ImageView) -> tuple[float, float]:
        """Where the viewer's centre falls on its frame, as shares of its width and height."""
        frame = self.frame_on_screen(view)
        centre = view.mapToScene(view.viewport().rect().center())
        return (centre.x() - frame.left()) / max(frame.width(), 1.0), (centre.y() - frame.top()) / max(frame.height(), 1.0)

    def _follow(self, source: ImageView) -> None:
        if not self._enabled or self._copying or not source.has_image:
            return
        target = self._other(source)
        if not target.has_image:
            return
        self._copying = True
        try:
            if source.is_fitted:
                target.fit_to_window()
                return
            from_frame, to_frame = self.frame_on_screen(source), self.frame_on_screen(target)
            # The frames get the same size on screen (by their diagonals, so neither a wide nor a
            # tall frame dominates).
            ratio = math.hypot(from_frame.width(), from_frame.height()) / max(math.hypot(to_frame.width(), to_frame.height()), 1.0)
            target.set_zoom(source.zoom * ratio)
            share_x, share_y = self.centre_share(source)
            target.centerOn(QPointF(to_frame.left() + share_x * to_frame.width(), to_frame.top() + share_y * to_frame.height()))
        finally:
            self._copying = False

    def _follow_window(self, source: ImageView) -> None:
        if not self._enabled or self._copying:
            return
        self._copying = True
        try:
            self._other(source).set_window_level(source.window_level)
        finally:
            self._copying = False
