"""Load an X-ray file (PNG, JPEG, BMP, TIFF or DICOM) into display-ready grayscale pixels.

Everything that can go wrong with a user's file ends as :class:`ImageLoadError` carrying one
sentence the window and the CLI can show as is; nothing else escapes :func:`load_image`.
The type of a file is decided by its content, never by its suffix.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import stat
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

if TYPE_CHECKING:
    from desktop.core.knee_sides import FilmSides

__all__ = [
    "CLEAR_CHROMA",
    "MAX_FILE_BYTES",
    "MAX_PIXELS",
    "MIN_SIDE",
    "SUPPORTED_SUFFIXES",
    "ImageLoadError",
    "XRayImage",
    "colour_share",
    "is_dicom_file",
    "load_image",
]

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES: tuple[str, ...] = (
    ".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".dcm", ".dicom",
)
# The largest real radiographs are full-length stitched spine/leg studies and 50 µm
# mammograms, around 30-60 million pixels. 150 million leaves generous headroom while
# bounding memory: the float32 result alone is 600 MB, and decoding briefly needs a
# few times that. Anything bigger is almost certainly a mistake or a decompression bomb.
MAX_PIXELS: int = 150_000_000
# A 150-million-pixel uncompressed 16-bit DICOM is ~300 MB; multi-frame files get bigger,
# but we show only the first frame, and the whole file is read into memory to hash it.
MAX_FILE_BYTES: int = 1 << 30
# Below this the model's resize would invent nearly all of the content; such files are
# thumbnails or icons, not radiographs.
MIN_SIDE: int = 16
# A pixel is in clear colour when its channels differ by at least this much (of 255): JPEG
# noise on a grey film stays far below it; a blue background, a photo or a drawing does not.
CLEAR_CHROMA: int = 51

# No "MPO": the JPEG opener itself returns MPO images for multi-picture camera JPEGs.
_PILLOW_FORMATS = ("PNG", "JPEG", "BMP", "DIB", "TIFF", "GIF")
# Pillow reports camera JPEGs with a multi-picture index as MPO, and headerless BMPs as DIB.
_FORMAT_NAMES = {"MPO": "JPEG", "DIB": "BMP"}
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"BM", "BMP"),
    (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"), (b"II+\x00", "TIFF"), (b"GIF8", "GIF"),
)
_UNSUPPORTED = "is not a PNG, JPEG, BMP, TIFF or DICOM image"


class ImageLoadError(Exception):
    """Raised with ONE clear, user-facing sentence (shown in the app window and printed as
    one line by the CLI)."""


@dataclass(frozen=True)
class XRayImage:
    """A decoded radiograph: grayscale float32 in [0, 1], bone bright, row 0 at the top."""

    # Read-only, so the shared array cannot be changed behind the viewer's or the model's back.
    pixels: np.ndarray = field(repr=False, compare=False)
    source_path: Path
    format: str  # "PNG", "JPEG", "TIFF", "BMP", "DICOM"
    bits_stored: int
    pixel_spacing_mm: tuple[float, float] | None  # (row, col)
    info: dict[str, str] = field(compare=False)  # for the "image info" panel
    sha256: str  # of the file bytes
    film_sides: FilmSides | None = None  # what a DICOM header says about the patient's sides
    colour_share: float = 0.0  # of the pixels in clear colour before the grey conversion

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


def is_dicom_file(path: str | os.PathLike[str]) -> bool:
    """True when the file carries the DICOM Part 10 'DICM' magic at byte 128.

    Recognises DICOM by content, so files without a suffix (as PACS exports name them) count.
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False  # opening a FIFO would block
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return head[128:132] == b"DICM"


def load_image(path: str | os.PathLike[str]) -> XRayImage:
    """Read, decode and normalise one X-ray file.

    Returns display-ready pixels (see :class:`XRayImage`). Raises :class:`ImageLoadError`
    with a one-sentence message for every kind of bad input.
    """
    path = Path(path)
    data = _read_file(path)
    digest = hashlib.sha256(data).hexdigest()
    if data[128:132] == b"DICM":
        return _from_dicom(path, data, digest, has_magic=True)
    try:
        return _from_pillow(path, data, digest)
    except _NotPillowImage:
        pass
    # Only try DICOM without the magic when the name or the first tag says so: a forced
    # parse of arbitrary bytes 'succeeds' with garbage often enough to need a reason.
    if path.suffix.lower() in (".dcm", ".dicom") or data[:2] in (b"\x02\x00", b"\x08\x00"):
        return _from_dicom(path, data, digest, has_magic=False)
    looks_like = _sniff(data)
    if looks_like:
        raise ImageLoadError(f"'{path.name}' looks like a {looks_like} file but is damaged.")
    raise ImageLoadError(f"'{path.name}' {_UNSUPPORTED}.")


def check_dimensions(name: str, width: int, height: int) -> None:
    """Refuse sizes outside [MIN_SIDE, MAX_PIXELS] before any pixel is decoded."""
    if width * height > MAX_PIXELS:
        raise ImageLoadError(
            f"'{name}' is {width} x {height} pixels, larger than the {MAX_PIXELS // 1_000_000}"
            " million pixels XRayDesk accepts."
        )
    if min(width, height) < MIN_SIDE:
        raise ImageLoadError(
            f"'{name}' is only {width} x {height} pixels; an X-ray needs at least "
            f"{MIN_SIDE} pixels on each side."
        )


def to_unit_range(values: np.ndarray) -> np.ndarray:
    """Min/max-stretch to float32 [0, 1]; a constant image becomes all zeros, not NaN."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.all():
        fill = values[finite].min() if finite.any() else 0.0
        values = np.where(finite, values, fill)
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return np.zeros(values.shape, dtype=np.float32)
    return ((values - lo) / (hi - lo)).astype(np.float32)


def finish(pixels: np.ndarray, **fields: object) -> XRayImage:
    """Freeze the pixel array and build the value object (shared with the DICOM reader)."""
    pixels = np.ascontiguousarray(np.clip(pixels, 0.0, 1.0), dtype=np.float32)
    pixels.flags.writeable = False
    return XRayImage(pixels=pixels, **fields)  # type: ignore[arg-type]


class _NotPillowImage(Exception):
    """Internal: Pillow did not recognise the content; the caller tries DICOM next."""


def _read_file(path: Path) -> bytes:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ImageLoadError(f"The file '{path}' does not exist.") from None
    except PermissionError:
        raise ImageLoadError(f"XRayDesk is not allowed to open '{path}'.") from None
    except OSError as exc:
        raise ImageLoadError(f"'{path}' could not be opened ({exc.strerror}).") from None
    if stat.S_ISDIR(st.st_mode):
        raise ImageLoadError(f"'{path.name}' is a folder, not an image file.")
    if not stat.S_ISREG(st.st_mode):
        # A FIFO or device would block or never end when read.
        raise ImageLoadError(f"'{path.name}' is not a regular file.")
    if st.st_size == 0:
        raise ImageLoadError(f"'{path.name}' is empty (0 bytes).")
    if st.st_size > MAX_FILE_BYTES:
        raise ImageLoadError(
            f"'{path.name}' is {st.st_size / 2**30:.1f} GiB, larger than the "
            f"{MAX_FILE_BYTES / 2**30:g} GiB XRayDesk accepts."
        )
    # One read serves both the hash and the decoder, so the hash is of exactly what we show.
    try:
        return path.read_bytes()
    except PermissionError:
        raise ImageLoadError(f"XRayDesk is not allowed to read '{path.name}'.") from None
    except MemoryError:
        raise ImageLoadError(f"There is not enough memory to read '{path.name}'.") from None
    except OSError as exc:
        raise ImageLoadError(f"'{path.name}' could not be read ({exc.strerror}).") from None


def _sniff(data: bytes) -> str | None:
    return next((name for magic, name in _MAGIC if data.startswith(magic)), None)


def _from_dicom(path: Path, data: bytes, digest: str, *, has_magic: bool) -> XRayImage:
    # Imported here: pydicom is slow to import and most sessions open no DICOM at all.
    from desktop.core.dicom import decode_dicom

    return decode_dicom(path, data, digest, has_magic=has_magic)


def _from_pillow(path: Path, data: bytes, digest: str) -> XRayImage:
    name = path.name
    try:
        with warnings.catch_warnings():
            # Pillow warns from ~89 M pixels; our own MAX_PIXELS check below is the policy,
            # so its warning is noise here. Its hard error (~179 M) still ends up refused.
            # (catch_warnings is process-wide before Python 3.14; at worst another thread's
            # warning is hidden during these few milliseconds of header parsing.)
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=_PILLOW_FORMATS)
    except Image.DecompressionBombError:
        raise ImageLoadError(
            f"'{name}' declares more pixels than XRayDesk accepts (a possible "
            "decompression bomb)."
        ) from None
    except UnidentifiedImageError:
        raise _NotPillowImage from None
    except Exception as exc:  # a header so broken the plugin itself failed
        log.info("Pillow could not open %s: %r", path, exc)
        raise ImageLoadError(f"'{name}' is damaged and could not be opened.") from None

    fmt = _FORMAT_NAMES.get(im.format or "", im.format or "?")
    if fmt == "GIF":
        raise ImageLoadError(
            "GIF images and animations are not radiographs; export the X-ray as PNG, "
            "JPEG, TIFF or DICOM."
        )
    check_dimensions(name, *im.size)
    try:
        frames = int(getattr(im, "n_frames", 1))
    except Exception:  # a broken page chain; the first page may still be fine
        frames = 1
    try:
        im.load()  # decode now, inside the try: Image.open only read the header
    except MemoryError:
        raise ImageLoadError(f"There is not enough memory to decode '{name}'.") from None
    except Exception as exc:
        log.info("Decoding %s failed: %r", path, exc)
        raise ImageLoadError(
            f"'{name}' is damaged or incomplete; its {fmt} data could not be decoded."
        ) from None

    info: dict[str, str] = {"Format": fmt}
    if _orientation(im) not in (0, 1):
        try:
            im = ImageOps.exif_transpose(im) or im
            info["Orientation"] = "EXIF rotation applied"
        except Exception as exc:  # broken EXIF should not stop a readable image opening
            log.warning("Ignoring unusable EXIF orientation in %s: %r", path, exc)

    pixels, bits, colour = _pillow_to_gray(im)
    share = _pillow_colour_share(im) if colour else 0.0
    height, width = pixels.shape
    info["Size"] = f"{width} x {height} px"
    info["Bit depth"] = bits[1]
    if colour:
        info["Colour mode"] = f"{colour}, converted to grayscale" + (f" ({share:.0%} of pixels in colour)" if share else "")
    if frames > 1:
        info["Frames"] = f"{frames} (showing the first)"
    log.debug("Loaded %s: %s %dx%d, %s bits", path, fmt, width, height, bits[0])
    return finish(
        pixels, source_path=path, format=fmt, bits_stored=bits[0],
        pixel_spacing_mm=None, info=info, sha256=digest, colour_share=share,
    )


def colour_share(channels: np.ndarray, *, full_scale: float = 255) -> float:
    """The share of (rows, cols, 3) unsigned pixels whose values run 0 to ``full_scale`` that
    are in clear colour (see CLEAR_CHROMA). The bound is scaled instead of the pixels, so a
    large 16-bit colour DICOM is not copied to floats first."""
    return float((np.ptp(channels, axis=-1) >= CLEAR_CHROMA * full_scale / 255).mean())


def _pillow_colour_share(im: Image.Image) -> float:
    """:func:`colour_share` on a copy of at most about 1,000 px a side: a whole photo takes
    milliseconds, and the share hardly changes."""
    rgb = im if im.mode == "RGB" else im.convert("RGB")  # converting RGB to RGB would copy it
    factor = max(1, max(rgb.size) // 1024)
    return colour_share(np.asarray(rgb.reduce(factor) if factor > 1 else rgb))


def _orientation(im: Image.Image) -> int:
    try:
        return int(im.getexif().get(0x0112, 1))
    except Exception:
        return 1


def _pillow_to_gray(im: Image.Image) -> tuple[np.ndarray, tuple[int, str], str | None]:
    """Pixels in [0, 1], (bits_stored, bit-depth text), and the colour mode if converted."""
    mode = im.mode
    if mode == "1":
        return np.asarray(im, dtype=np.float32), (1, "1"), None
    if mode == "L":
        return np.asarray(im, dtype=np.float32) / 255.0, (8, "8"), None
    if mode.startswith("I;16") or mode == "I":
        raw = np.asarray(im).astype(np.int64)
        lo, hi = int(raw.min()), int(raw.max())
        if mode == "I" and (lo < 0 or hi > 0xFFFF):
            return to_unit_range(raw), (32, "32 (stretched min to max)"), None
        # Detectors give 10-16 bits, and PNG/TIFF carry them in a 16-bit container with no
        # reliable field saying which (Pillow ignores PNG sBIT). Dividing 12-bit data by
        # 65535 would show a near-black image, so use the smallest usual depth that holds
        # the data maximum; a genuinely 16-bit image reaches the top bits and keeps 65535.
        bits = next(b for b in (8, 10, 12, 14, 16) if hi < 1 << b)
        text = "16" if bits == 16 else f"{bits} (inferred from the data; 16-bit container)"
        return (raw / float((1 << bits) - 1)).astype(np.float32), (bits, text), None
    if mode == "F":
        return to_unit_range(np.asarray(im)), (32, "32 float (stretched min to max)"), None
    # Palette, RGB(A), CMYK, LA, YCbCr...: ITU-R 601 luma via Pillow. Pillow's JPEG reader
    # already undoes the Adobe inverted-CMYK convention, so CMYK JPEGs come out right.
    gray = im.convert("L") if mode in ("LA", "P", "PA", "RGB", "RGBA") else (
        im.convert("RGB").convert("L")
    )
    return np.asarray(gray, dtype=np.float32) / 255.0, (8, "8"), mode
