"""DICOM half of core.imaging: first frame, modality rescale, VOI window, MONOCHROME1.

Called by :func:`desktop.core.imaging.load_image`; use that, not this module, from elsewhere.
Compressed transfer syntaxes decode through whichever pydicom pixel plugins are installed
(pylibjpeg, pylibjpeg-libjpeg, pylibjpeg-openjpeg, pyjpegls, Pillow, pydicom's own RLE).
"""

from __future__ import annotations

import io
import logging
import math
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.pixels import (
    apply_color_lut,
    apply_modality_lut,
    apply_voi,
    apply_windowing,
    pixel_array,
)

from desktop.core.imaging import (
    _UNSUPPORTED,
    ImageLoadError,
    XRayImage,
    check_dimensions,
    colour_share,
    finish,
    to_unit_range,
)
from desktop.core.knee_sides import FilmSides

__all__ = ["decode_dicom"]

log = logging.getLogger(__name__)

_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R 601, the same weights Pillow uses


def decode_dicom(path: Path, data: bytes, digest: str, *, has_magic: bool) -> XRayImage:
    """Decode DICOM file bytes; every failure becomes a one-sentence ImageLoadError.

    ``has_magic`` is False when the file lacks the 'DICM' preamble and is tried only
    because of its suffix or first tag; a failure then reads as "not an image we know".
    """
    try:
        return _decode(path, data, digest, has_magic=has_magic)
    except ImageLoadError:
        raise
    except MemoryError:
        raise ImageLoadError(f"There is not enough memory to decode '{path.name}'.") from None
    except Exception as exc:  # malformed tags surface as any type from deep inside pydicom
        log.warning("DICOM decoding of %s failed: %r", path, exc)
        if not has_magic:
            raise ImageLoadError(f"'{path.name}' {_UNSUPPORTED}.") from None
        raise ImageLoadError(f"'{path.name}' is a damaged DICOM file.") from None


def _decode(path: Path, data: bytes, digest: str, *, has_magic: bool) -> XRayImage:
    name = path.name
    # force=True reads files without the preamble/meta header; the caller only gets here
    # with the magic present or a DICOM-like suffix or first tag.
    ds = pydicom.dcmread(io.BytesIO(data), force=True)
    if not any(keyword in ds for keyword in _PIXEL_KEYWORDS):
        if not has_magic and "SOPClassUID" not in ds:
            raise ImageLoadError(f"'{name}' {_UNSUPPORTED}.")
        raise ImageLoadError(f"'{name}' is a DICOM file that holds no image (no pixel data).")

    rows, cols = int(ds.Rows), int(ds.Columns)
    check_dimensions(name, cols, rows)  # from the header, before decoding anything
    frames = int(ds.get("NumberOfFrames") or 1)
    syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    try:
        # index=0 decodes only the first frame, not a whole multi-frame series.
        arr = pixel_array(ds, index=0)
    except MemoryError:
        raise
    except Exception as exc:
        log.warning("Pixel data of %s did not decode: %r", path, exc)
        if syntax is not None and syntax.is_compressed:
            raise ImageLoadError(
                f"'{name}' is compressed as {syntax.name}, and that data could not be decoded."
            ) from None
        raise ImageLoadError(f"The pixel data in '{name}' is damaged or incomplete.") from None

    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    bits_stored = int(ds.get("BitsStored") or ds.get("BitsAllocated") or 8)
    window_text = None
    share = 0.0  # secondary captures (screenshots, photos) can be colour DICOMs
    if photometric == "PALETTE COLOR":
        rgb = apply_color_lut(arr, ds)
        top = float(np.iinfo(rgb.dtype).max)
        pixels, share = (rgb @ _LUMA) / top, colour_share(rgb, full_scale=top)
    elif arr.ndim == 3:  # RGB, or YBR which pydicom has already turned into RGB
        top = float((1 << bits_stored) - 1)
        pixels, share = (arr @ _LUMA) / top, colour_share(arr, full_scale=top)
    else:
        pixels, window_text = _grayscale(arr, ds)
        # DX files say MONOCHROME1 *and* Presentation LUT Shape INVERSE for the same single
        # inversion; either one alone also means "low values are bright". Never invert twice.
        if photometric == "MONOCHROME1" or ds.get("PresentationLUTShape") == "INVERSE":
            pixels = 1.0 - pixels

    spacing, spacing_source = _pixel_spacing(ds)
    info = _info(ds, cols, rows, bits_stored, photometric, frames, window_text, syntax)
    sides = _film_sides(ds)
    if sides is not None:
        info["Sides"] = sides.describe()
    if spacing is not None:
        where = " (at the detector)" if spacing_source == "ImagerPixelSpacing" else ""
        info["Pixel spacing"] = f"{spacing[0]:g} x {spacing[1]:g} mm{where}"
    log.debug("Loaded DICOM %s: %dx%d, %s, %d bits", path, cols, rows, photometric, bits_stored)
    return finish(
        pixels, source_path=path, format="DICOM", bits_stored=bits_stored,
        pixel_spacing_mm=spacing, info=info, sha256=digest, film_sides=sides, colour_share=share,
    )


def _film_sides(ds: Dataset) -> FilmSides | None:
    """Patient Orientation and laterality, for naming the knees; None when absent or unreadable."""
    try:
        laterality = ds.get("ImageLaterality") or ds.get("Laterality")
        return FilmSides.from_header(ds.get("PatientOrientation"), laterality)
    except Exception:  # a malformed value must not cost the user the image
        log.debug("unreadable side information", exc_info=True)
        return None


def _grayscale(arr: np.ndarray, ds: Dataset) -> tuple[np.ndarray, str | None]:
    """Modality LUT, then the first VOI LUT or window, scaled to [0, 1]."""
    values = apply_modality_lut(arr, ds)  # rescale slope/intercept -> e.g. Hounsfield
    lut = (ds.get("VOILUTSequence") or [None])[0]
    if lut is not None and "LUTDescriptor" in lut and "LUTData" in lut:
        # pydicom prefers a VOI LUT to a window when both exist; so do we. Its output range
        # is the span of the table itself (some files misstate the entry bit depth).
        count, first = int(lut.LUTDescriptor[0]) or 65536, int(lut.LUTDescriptor[1])
        table = apply_voi(np.arange(first, first + count), ds, index=0)
        out = apply_voi(np.rint(values).astype(np.int64), ds, index=0)
        text = str(lut.get("LUTExplanation") or "VOI LUT")
        return _scale(out, float(table.min()), float(table.max())), text
    if "WindowCenter" in ds and "WindowWidth" in ds:
        try:
            out = apply_windowing(values, ds, index=0)
            # pydicom maps the window onto the stored-value range passed through the rescale
            # (PS3.3 C.11.2.1.2). Rather than re-derive that range, ask the same function
            # where it saturates; SIGMOID only approaches the limits, hence the extremes.
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                lo, hi = apply_windowing(np.array([-1e300, 1e300]), ds, index=0)
            return _scale(out, float(lo), float(hi)), _window_text(ds)
        except (ValueError, TypeError, IndexError) as exc:  # e.g. width 0, unknown function
            log.warning("Ignoring unusable DICOM window (%s); stretching min to max", exc)
    # No VOI information: the viewer's window/level starts from the full data range.
    return to_unit_range(values), None


def _scale(out: np.ndarray, lo: float, hi: float) -> np.ndarray:
    if not math.isfinite(lo) or not math.isfinite(hi) or hi == lo:
        return to_unit_range(out)
    return ((np.asarray(out, dtype=np.float64) - lo) / (hi - lo)).astype(np.float32)


def _first(value: object) -> float:
    """First number of a DS value that may be single or multi-valued."""
    if hasattr(value, "__len__") and not isinstance(value, (str, bytes)):
        value = value[0]  # type: ignore[index]
    return float(value)  # type: ignore[arg-type]


def _window_text(ds: Dataset) -> str:
    centre, width = ds["WindowCenter"], ds["WindowWidth"]
    text = f"C {_first(centre.value):g} / W {_first(width.value):g}"
    return f"{text} (first of {centre.VM})" if centre.VM > 1 else text


def _pixel_spacing(ds: Dataset) -> tuple[tuple[float, float] | None, str | None]:
    """(row, col) mm: PixelSpacing (patient-calibrated) first, else ImagerPixelSpacing."""
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        try:
            row, col = (float(v) for v in ds.get(keyword) or ())
        except (TypeError, ValueError):  # absent, one value, or not numbers
            continue
        if all(math.isfinite(v) and v > 0 for v in (row, col)):
            return (row, col), keyword
    return None, None


def _info(
    ds: Dataset, cols: int, rows: int, bits: int, photometric: str, frames: int,
    window_text: str | None, syntax: object,
) -> dict[str, str]:
    allocated = int(ds.get("BitsAllocated") or bits)
    maker = " ".join(_text(ds, k) for k in ("Manufacturer", "ManufacturerModelName")).strip()
    date = _text(ds, "StudyDate")
    if len(date) == 8 and date.isdigit():
        date = f"{date[:4]}-{date[4:6]}-{date[6:]}"
    if photometric == "MONOCHROME1":
        photometric += " (inverted for display)"
    elif photometric not in ("MONOCHROME2", ""):
        photometric += ", converted to grayscale"
    candidates = {
        "Format": "DICOM",
        "Size": f"{cols} x {rows} px",
        "Bit depth": f"{bits}" + (f" ({allocated} allocated)" if allocated != bits else ""),
        "Modality": _text(ds, "Modality"),
        "Body part": _text(ds, "BodyPartExamined"),
        "View": _text(ds, "ViewPosition"),
        "Study date": date,
        "Manufacturer": maker,
        "Photometric": photometric,
        "Frames": f"{frames} (showing the first)" if frames > 1 else "",
        "Window": window_text or "",
        "Transfer syntax": getattr(syntax, "name", "") or "",
    }
    return {key: value for key, value in candidates.items() if value}


def _text(ds: Dataset, keyword: str) -> str:
    try:
        return str(ds.get(keyword) or "").strip()
    except Exception:  # a malformed value must not cost the user the image
        return ""
