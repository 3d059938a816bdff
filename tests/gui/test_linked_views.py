"""Two viewers linked for a follow-up comparison: zoom, pan and window move together."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QHBoxLayout, QWidget

from desktop.core.joint_regions import JointRegion
from desktop.ui.display_mapping import WindowLevel
from desktop.ui.image_view import ImageView
from desktop.ui.linked_views import LinkedViews, joints_frame


def _size_on_screen(link: LinkedViews, view: ImageView) -> float:
    frame = link.frame_on_screen(view)
    return view.zoom * math.hypot(frame.width(), frame.height())


@pytest.fixture()
def views(qtbot):
    holder = QWidget()
    layout = QHBoxLayout(holder)
    pair = (ImageView(), ImageView())
    for view in pair:
        layout.addWidget(view)
    qtbot.addWidget(holder)
    holder.resize(900, 400)
    holder.show()
    qtbot.waitExposed(holder)
    rng = np.random.default_rng(3)
    pair[0].set_image(rng.random((400, 300), dtype=np.float32))  # a smaller film ...
    pair[1].set_image(rng.random((1600, 1200), dtype=np.float32))  # ... and a larger one
    holder.pair = pair  # the holder keeps the viewers (its children) alive
    yield pair


def test_zooming_and_panning_one_shows_the_same_place_on_the_other(views) -> None:
    earlier, later = views
    link = LinkedViews(earlier, later)
    earlier.set_zoom(earlier.zoom * 3)
    assert _size_on_screen(link, later) == pytest.approx(_size_on_screen(link, earlier), rel=0.01)
    rect = earlier.sceneRect()
    earlier.centerOn(rect.left() + 0.3 * rect.width(), rect.top() + 0.7 * rect.height())
    assert link.centre_share(later) == pytest.approx(link.centre_share(earlier), abs=0.01)
    later.fit_to_window()
    assert earlier.is_fitted


def test_knee_films_line_up_through_their_joints_however_each_was_framed(views) -> None:
    earlier, later = views
    # The joint sits top-left on the earlier film, bottom-right on the later one, twice the size.
    frames = (joints_frame([JointRegion((40, 30, 100, 80), 0.9, "knee")]),
              joints_frame([JointRegion((1000, 800, 200, 160), 0.9, "knee")]))
    link = LinkedViews(earlier, later, frames=frames)
    assert frames[0] == QRectF(30, 40, 80, 100)
    earlier.set_zoom(earlier.zoom * 4)
    earlier.centerOn(link.frame_on_screen(earlier).center())
    assert link.centre_share(later) == pytest.approx((0.5, 0.5), abs=0.01)  # the later joint's centre
    assert _size_on_screen(link, later) == pytest.approx(_size_on_screen(link, earlier), rel=0.01)


def test_window_level_follows_and_unlinking_lets_each_move_alone(views) -> None:
    earlier, later = views
    link = LinkedViews(earlier, later)
    earlier.set_window_level(WindowLevel(width=0.4, level=0.3))
    assert later.window_level == earlier.window_level
    link.set_enabled(False)
    later.set_zoom(later.zoom * 4)
    later.set_window_level(WindowLevel(width=0.8, level=0.6))
    assert earlier.is_fitted and earlier.window_level == WindowLevel(width=0.4, level=0.3)
    link.set_enabled(True)  # linking again brings the later view to the earlier one
    assert later.is_fitted and later.window_level == WindowLevel(width=0.4, level=0.3)
