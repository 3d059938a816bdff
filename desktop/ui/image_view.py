"""The radiograph viewer: zoom, pan, window/level, invert, rotate, heat map, knee joint boxes
and measurements.

Mouse: wheel zooms about the cursor, left or middle drag pans, right drag sets window/level
(horizontal = window width / contrast, vertical = level / brightness), double-click fits.
Shift + left drag (or any left drag in a measure mode) measures a distance or an angle's line,
or moves a measured line's end when it starts on one. The heat map
(:mod:`desktop.ui.heatmap_overlay`), the joint boxes (:mod:`desktop.ui.joint_boxes`) and the
measurements (:mod:`desktop.ui.measure_overlay`) are child items of the image item, so they
follow every zoom, pan and rotation without being recomputed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPixmap, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import QFrame, QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QWidget

from desktop.core.joint_regions import JointRegion
from desktop.ui.display_mapping import DEFAULT_WINDOW, WindowLevel, apply_lut, display_lut, quantise
from desktop.ui.heatmap_overlay import HeatmapOverlay
from desktop.ui.joint_boxes import JointBoxes
from desktop.ui.measure_overlay import PAN, MeasureTool
from desktop.ui.pixel_probe import PixelProbe, probe_pixel
from desktop.ui.qimages import grey_to_qimage

__all__ = ["ImageView", "PixelProbe"]  # PixelProbe re-exported: callers know it from here


ZOOM_STEP = 1.25
MIN_ZOOM = 0.01
MAX_ZOOM = 40.0
# Above this magnification radiologists want to see real pixels, not a blur.
NEAREST_FROM_ZOOM = 2.0
# Right-drag sensitivity: 200 px doubles/halves the window; 400 px moves the level by one full range.
WIDTH_DOUBLING_PX = 200.0
LEVEL_RANGE_PX = 400.0
# A press this close (screen pixels) to a measured line's end moves that end.
HANDLE_REACH_PX = 8.0
PLACEHOLDER = "Drop an X-ray here\nor use File \u25b8 Open\u2026 (Ctrl+O)"


class ImageView(QGraphicsView):
    """Shows one grayscale image (float pixels in [0, 1]) with an optional heat-map overlay."""

    zoom_changed = Signal(float)  # 1.0 = 100 %
    probe_changed = Signal(object)  # PixelProbe | None
    window_level_changed = Signal(object)  # WindowLevel
    inverted_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self._image_item = QGraphicsPixmapItem()
        self._image_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self._image_item)
        self._overlay = HeatmapOverlay(self._image_item)
        self._joint_boxes = JointBoxes(self._image_item)
        self.measure_tool = MeasureTool(self._image_item, self)
        # False where measurements are shown but cannot be saved (the study comparison).
        self.measuring_allowed = True

        self._pixels: np.ndarray | None = None
        self._indices: np.ndarray | None = None
        self._window = DEFAULT_WINDOW
        self._inverted = False
        self._quarter_turns = 0
        self._fit_mode = True
        self._displayed: QImage | None = None
        self._drag: tuple[str, QPointF, WindowLevel] | None = None

        self.setBackgroundBrush(QColor(12, 12, 14))
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)  # set_zoom anchors itself
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setMouseTracking(True)
        self.setMinimumSize(320, 240)

    # ----------------------------------------------------------------- image
    @property
    def image_item(self) -> QGraphicsPixmapItem:
        return self._image_item

    @property
    def heatmap_item(self) -> QGraphicsPixmapItem:
        return self._overlay.item

    @property
    def has_image(self) -> bool:
        return self._pixels is not None

    def set_image(self, pixels: np.ndarray, *, pixel_spacing_mm: tuple[float, float] | None = None) -> None:
        """Show new pixels (rows, cols) in [0, 1], fitted, with the display settings reset."""
        if pixels.ndim != 2:
            raise ValueError("the viewer shows 2-D grayscale images only")
        self._pixels = pixels
        self._indices = quantise(pixels)
        self.measure_tool.set_spacing(pixel_spacing_mm)
        self.set_heatmap(None)
        self.set_joints(())
        self.measure_tool.clear()
        self.reset_view()

    def displayed_image(self) -> QImage | None:
        """The 8-bit image currently on screen (after window/level and invert)."""
        return self._displayed

    def _render(self) -> None:
        if self._indices is None:
            return
        grey = apply_lut(self._indices, display_lut(self._window, invert=self._inverted))
        self._displayed = grey_to_qimage(grey)
        self._image_item.setPixmap(QPixmap.fromImage(self._displayed))

    # ------------------------------------------------------- display settings
    @property
    def window_level(self) -> WindowLevel:
        return self._window

    def set_window_level(self, window: WindowLevel) -> None:
        self._window = window.clamped()
        self._render()
        self.window_level_changed.emit(self._window)

    @property
    def inverted(self) -> bool:
        return self._inverted

    def set_inverted(self, inverted: bool) -> None:
        if inverted == self._inverted:
            return
        self._inverted = inverted
        self._render()
        self.inverted_changed.emit(inverted)

    def toggle_invert(self) -> None:
        self.set_inverted(not self._inverted)

    @property
    def rotation_degrees(self) -> int:
        return 90 * self._quarter_turns

    def rotate_90(self) -> None:
        """Rotate clockwise by a quarter turn about the image centre."""
        self._quarter_turns = (self._quarter_turns + 1) % 4
        self._apply_rotation()
        if self._fit_mode:
            self.fit_to_window()

    def _apply_rotation(self) -> None:
        rect = self._image_item.boundingRect()
        self._image_item.setTransformOriginPoint(rect.center())
        self._image_item.setRotation(self.rotation_degrees)
        self.setSceneRect(self._image_item.sceneBoundingRect())

    def reset_view(self) -> None:
        """Default window/level, no invert, no rotation, fitted to the window."""
        self._window = DEFAULT_WINDOW
        was_inverted, self._inverted = self._inverted, False
        self._quarter_turns = 0
        self._render()
        self._apply_rotation()
        self.fit_to_window()
        self.window_level_changed.emit(self._window)
        if was_inverted:
            self.inverted_changed.emit(False)

    # ------------------------------------------------------------------ zoom
    @property
    def zoom(self) -> float:
        """Current magnification (1.0 = one image pixel per screen pixel)."""
        return float(self.transform().m11())

    def set_zoom(self, factor: float, *, anchor: QPointF | None = None) -> None:
        """Magnify to ``factor``, keeping the image point under ``anchor`` (viewport
        coordinates; default the viewport centre) where it is."""
        factor = min(max(factor, MIN_ZOOM), MAX_ZOOM)
        self._fit_mode = False
        point = anchor if anchor is not None else QPointF(self.viewport().rect().center())
        scene_point = self.mapToScene(point.toPoint())
        # Qt's own AnchorUnderMouse only works while the pointer hovers the widget; doing the
        # arithmetic here also anchors keyboard zoom and synthetic (test) wheel events.
        self.scale(factor / self.zoom, factor / self.zoom)
        drift = self.mapFromScene(scene_point) - point.toPoint()
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + drift.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + drift.y())
        self._zoom_updated()

    def zoom_in(self) -> None:
        self.set_zoom(self.zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self.zoom / ZOOM_STEP)

    def actual_size(self) -> None:
        self.set_zoom(1.0)

    def fit_to_window(self) -> None:
        """Show the whole image as large as the viewport allows; stays fitted on resize."""
        self._fit_mode = True
        if self._pixels is not None:
            self.fitInView(self.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
        self._zoom_updated()

    @property
    def is_fitted(self) -> bool:
        return self._fit_mode

    def _zoom_updated(self) -> None:
        mode = Qt.TransformationMode.FastTransformation if self.zoom >= NEAREST_FROM_ZOOM else Qt.TransformationMode.SmoothTransformation
        self._image_item.setTransformationMode(mode)
        self.zoom_changed.emit(self.zoom)

    # -------------------------------------------------------------- heat map
    @property
    def has_heatmap(self) -> bool:
        return self._overlay.heatmap is not None

    @property
    def heatmap(self) -> np.ndarray | None:
        """The heat map currently overlaid (as given, before colouring)."""
        return self._overlay.heatmap

    def set_heatmap(self, heatmap: np.ndarray | None, *, region: tuple[int, int, int, int] | None = None) -> None:
        """Overlay a heat map in [0, 1] (any resolution) stretched over the whole image, or over
        ``region`` (top, left, height, width in image pixels) for a model that read one joint."""
        if self._pixels is None:
            heatmap = None
        shape = self._pixels.shape if self._pixels is not None else (1, 1)
        self._overlay.set_heatmap(heatmap, image_shape=shape, region=region)

    def set_heatmap_visible(self, visible: bool) -> None:
        self._overlay.set_visible(visible)

    def set_heatmap_opacity(self, opacity: float) -> None:
        self._overlay.set_opacity(opacity)

    # ---------------------------------------------------------- joint boxes
    @property
    def joint_boxes(self) -> JointBoxes:
        return self._joint_boxes

    def set_joints(self, joints: Sequence[JointRegion]) -> None:
        """Outline the located knee joints (boxes in image pixels); empty removes them."""
        self._joint_boxes.set_joints(joints if self._pixels is not None else ())

    def highlight_joint(self, side: str | None) -> None:
        """Mark the joint whose result is selected (None: no joint)."""
        self._joint_boxes.highlight(side)

    # ------------------------------------------------------------ measurements
    def set_measure_mode(self, mode: str) -> None:
        """In a measure mode (DISTANCE or ANGLE) a plain left drag measures instead of panning."""
        self.measure_tool.mode = mode
        if mode != PAN:
            self.viewport().setCursor(Qt.CursorShape.CrossCursor)
        else:
            self.viewport().unsetCursor()

    def _image_point(self, view_pos: QPointF) -> tuple[float, float]:
        """Image pixel coordinates (x, y) under a viewport position, kept on the image."""
        point = self._image_item.mapFromScene(self.mapToScene(view_pos.toPoint()))
        rows, cols = self._pixels.shape if self._pixels is not None else (1, 1)
        return min(max(point.x(), 0.0), float(cols)), min(max(point.y(), 0.0), float(rows))

    # ------------------------------------------------------------- mouse
    def wheelEvent(self, event: QWheelEvent) -> None:
        if self._pixels is None:
            return
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.set_zoom(self.zoom * ZOOM_STEP**steps, anchor=event.position())
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        button = event.button()
        measuring = self.measuring_allowed and (
            self.measure_tool.mode != PAN or bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier))
        if self._pixels is not None and button == Qt.MouseButton.LeftButton and measuring:
            point = self._image_point(event.position())
            if not self.measure_tool.grab_end(point, HANDLE_REACH_PX / max(self.zoom, 1e-6)):
                self.measure_tool.begin(point)
            self._drag = ("measure", event.position(), self._window)
            event.accept()
            return
        if self._pixels is not None and button in (Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton, Qt.MouseButton.RightButton):
            mode = "window" if button == Qt.MouseButton.RightButton else "pan"
            self._drag = (mode, event.position(), self._window)
            self.viewport().setCursor(Qt.CursorShape.SizeAllCursor if mode == "window" else Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        super().mouseMoveEvent(event)
        pos = event.position()
        if self._drag is not None:
            mode, start, window = self._drag
            delta = pos - start
            if mode == "measure":
                self.measure_tool.stretch(self._image_point(pos))
            elif mode == "pan":
                self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - round(delta.x()))
                self.verticalScrollBar().setValue(self.verticalScrollBar().value() - round(delta.y()))
                self._drag = (mode, pos, window)
            else:
                # Right = wider window (less contrast); up = lower level (brighter image).
                width = window.width * 2.0 ** (delta.x() / WIDTH_DOUBLING_PX)
                level = window.level + delta.y() / LEVEL_RANGE_PX
                self.set_window_level(WindowLevel(width=width, level=level))
        self.probe_changed.emit(self.probe_at(pos))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._drag is not None:
            if self._drag[0] == "measure":
                self.measure_tool.finish()
            self._drag = None
            self.set_measure_mode(self.measure_tool.mode)  # back to the mode's own cursor
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self._pixels is not None and event.button() == Qt.MouseButton.LeftButton:
            self.fit_to_window()
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def leaveEvent(self, event) -> None:  # noqa: ANN001 - QEvent
        self.probe_changed.emit(None)
        super().leaveEvent(event)

    def probe_at(self, view_pos: QPointF) -> PixelProbe | None:
        """The image pixel under a viewport position, or None outside the image."""
        if self._pixels is None:
            return None
        point = self._image_item.mapFromScene(self.mapToScene(view_pos.toPoint()))
        # The measuring scale: the file's, or the doctor's reference line when one is set.
        return probe_pixel(self._pixels, point.x(), point.y(), spacing_mm=self.measure_tool.spacing_mm)

    # ------------------------------------------------------------ painting
    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._fit_mode and self._pixels is not None:
            self.fit_to_window()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        if self._pixels is not None:
            return
        painter.save()
        painter.resetTransform()  # draw in viewport pixels, not scene units
        painter.setPen(QColor(150, 150, 160))
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        painter.setFont(font)
        painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter, PLACEHOLDER)
        painter.restore()
