"""Images that are not radiographs, made offline, as the body-part guard's "not_xray" class.

Users drop the wrong file: a phone photo, a scanned letter, a screenshot of the clinic's
software, a chart. The guard learns that class from what can be produced without the
internet: the two photos shipped inside scikit-learn, documents, forms and drawings rendered
with Qt, and synthetic textures. Each file name starts with its ``family`` (which source it came
from) so the guard's split keeps every crop of one photo on one side.

    python -m training.non_xray_images --out cache/non_xray --count 900
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

__all__ = ["FAMILIES", "write_non_xray_images"]

FAMILIES = ("photo_china", "photo_flower", "document", "form", "drawing", "chart", "texture", "gradient")
_WORDS = ["patient", "referral", "clinic", "report", "invoice", "schedule", "result", "normal", "follow-up", "appointment", "dose", "tablet", "morning", "evening", "laboratory", "blood", "pressure", "history", "allergy", "signature", "date", "address", "phone", "review", "discharge", "summary", "ward", "nurse", "doctor", "pharmacy", "stock", "order", "payment", "receipt"]


def _photo_crop(photo: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A random zoomed, rotated, recoloured crop of one of the shipped photos."""
    h, w = photo.shape[:2]
    side_h = int(rng.uniform(0.3, 1.0) * h)
    side_w = int(np.clip(side_h * rng.uniform(0.5, 2.0), 32, w))
    top, left = rng.integers(0, h - side_h + 1), rng.integers(0, w - side_w + 1)
    crop = Image.fromarray(photo[top : top + side_h, left : left + side_w])
    if rng.random() < 0.5:
        crop = crop.rotate(float(rng.uniform(-30, 30)), expand=True)
    # Greyscale photos are the hard case: the guard sees grey images, so colour alone is no clue.
    return crop.convert("L") if rng.random() < 0.7 else crop


def _qt_image(width: int, height: int, paint) -> Image.Image:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication, QImage, QPainter

    if QGuiApplication.instance() is None:
        _qt_image.app = QGuiApplication([])  # kept alive for the process
    image = QImage(width, height, QImage.Format.Format_RGB888)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    paint(painter)
    painter.end()
    buffer = image.constBits()
    array = np.frombuffer(buffer, dtype=np.uint8, count=image.sizeInBytes()).reshape(height, image.bytesPerLine())
    return Image.fromarray(array[:, : width * 3].reshape(height, width, 3).copy())


def _rendered(family: str, rng: np.random.Generator) -> Image.Image:
    from PySide6.QtCore import QPointF, QRectF, Qt
    from PySide6.QtGui import QColor, QFont, QPen

    width, height = int(rng.integers(300, 900)), int(rng.integers(300, 1000))

    def colour(light: bool) -> QColor:
        base = rng.integers(200, 256, 3) if light else rng.integers(0, 120, 3)
        return QColor(*map(int, base))

    def words(n: int) -> str:
        return " ".join(rng.choice(_WORDS, n))

    def paint(p) -> None:
        dark_theme = rng.random() < 0.25
        p.fillRect(0, 0, width, height, colour(not dark_theme))
        p.setPen(QPen(colour(dark_theme), 1))
        p.setFont(QFont("Sans", int(rng.integers(8, 22))))
        if family == "document":
            y = 30
            while y < height - 10:
                p.drawText(20, y, words(int(rng.integers(3, 12))))
                y += int(rng.integers(16, 34))
        elif family == "form":
            for row in range(int(rng.integers(4, 14))):
                y = 20 + row * int(rng.integers(30, 60))
                p.drawText(15, y + 18, words(2) + ":")
                p.drawRect(QRectF(width * 0.45, y, width * 0.5, 24))
            p.fillRect(0, 0, width, 18, colour(False))
        elif family == "drawing":
            for _ in range(int(rng.integers(5, 40))):
                p.setPen(QPen(colour(rng.random() < 0.5), float(rng.uniform(1, 8))))
                x, y = rng.uniform(0, width, 2), rng.uniform(0, height, 2)
                if rng.random() < 0.5:
                    p.drawLine(QPointF(x[0], y[0]), QPointF(x[1], y[1]))
                else:
                    p.drawEllipse(QPointF(x[0], y[0]), float(rng.uniform(5, 120)), float(rng.uniform(5, 120)))
        else:  # chart
            bars = int(rng.integers(3, 15))
            for i in range(bars):
                bar_h = rng.uniform(0.1, 0.8) * height
                p.fillRect(QRectF(40 + i * (width - 60) / bars, height - 30 - bar_h, (width - 60) / bars * 0.7, bar_h), colour(dark_theme))
            p.drawLine(35, 10, 35, height - 30)
            p.drawLine(35, height - 30, width - 10, height - 30)
            p.drawText(40, 20, words(3))
        p.setPen(Qt.PenStyle.NoPen)

    return _qt_image(width, height, paint)


def _texture(family: str, rng: np.random.Generator) -> Image.Image:
    h, w = int(rng.integers(128, 700)), int(rng.integers(128, 700))
    if family == "gradient":
        yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
        angle = rng.uniform(0, np.pi)
        field = np.cos(angle) * xx + np.sin(angle) * yy
        field = (field - field.min()) / max(np.ptp(field), 1e-6)
        array = field * rng.uniform(0.3, 1.0) + rng.uniform(0, 0.3) + rng.normal(0, rng.uniform(0, 0.05), (h, w))
    else:
        noise = Image.fromarray((rng.random((h, w)) * 255).astype(np.uint8))
        array = np.asarray(noise.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 12)))), dtype=np.float64) / 255
        array = (array - array.mean()) * rng.uniform(1, 6) + rng.uniform(0.2, 0.8)
    return Image.fromarray((np.clip(array, 0, 1) * 255).astype(np.uint8))


def write_non_xray_images(out_dir: Path, *, count: int, seed: int = 7) -> list[Path]:
    """Write ``count`` PNGs named ``<family>_<index>.png``; existing files are kept as they are."""
    from sklearn.datasets import load_sample_images

    out_dir.mkdir(parents=True, exist_ok=True)
    photos = dict(zip(("photo_china", "photo_flower"), load_sample_images().images))
    rng = np.random.default_rng(seed)
    paths = []
    for index in range(count):
        family = FAMILIES[index % len(FAMILIES)]
        path = out_dir / f"{family}_{index:05d}.png"
        paths.append(path)
        if path.exists():
            rng.random()  # keep the stream aligned with a full run
            continue
        if family.startswith("photo"):
            image = _photo_crop(photos[family], rng)
        elif family in ("texture", "gradient"):
            image = _texture(family, rng)
        else:
            image = _rendered(family, rng)
        image.save(path)
    return paths


def group_of(stem: str) -> str:
    """The split group of a generated image.

    Crops of one photo overlap, so each photo is one group; rendered and synthetic images are
    drawn independently, so each is its own group.
    """
    family = stem.rsplit("_", 1)[0]
    return family if family.startswith("photo") else stem


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("cache/non_xray"))
    parser.add_argument("--count", type=int, default=900)
    args = parser.parse_args(argv)
    written = write_non_xray_images(args.out, count=args.count)
    print(f"{len(written)} images in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
