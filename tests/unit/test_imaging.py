"""core.imaging / core.dicom: every fixture is generated in tmp_path; no Qt."""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile
from pydicom import uid
from pydicom.dataset import FileDataset, FileMetaDataset

from desktop.core import imaging
from desktop.core.imaging import (
    MAX_PIXELS,
    SUPPORTED_SUFFIXES,
    ImageLoadError,
    XRayImage,
    is_dicom_file,
    load_image,
)

RNG = np.random.default_rng(1234)


# ----------------------------------------------------------------------------- helpers
def _save(path: Path, im: Image.Image, fmt: str, **kw: object) -> Path:
    im.save(path, fmt, **kw)
    return path


def _gradient(height: int = 32, width: int = 48, top: int = 255) -> np.ndarray:
    return np.linspace(0, top, height * width).reshape(height, width).round()


def _png_chunk(tag: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(tag + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", crc)


def _huge_png(path: Path, width: int, height: int) -> Path:
    """A valid-looking 1-bit PNG header for a gigantic image, with data for 4 rows only.

    Costs a few KB on disk; decoding it for real would need ~width*height bytes.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    rows = (b"\x00" + bytes((width + 7) // 8)) * 4
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(rows)) + _png_chunk(b"IEND", b"")
    )
    return path


def _dicom(
    path: Path,
    arr: np.ndarray | None,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int = 12,
    compress: str | None = None,
    **tags: object,
) -> Path:
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = uid.ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = uid.DigitalXRayImageStorageForPresentation
    ds.SOPInstanceUID = uid.generate_uid()
    ds.Modality = "DX"
    if arr is not None:
        ds.set_pixel_data(arr, photometric, bits_stored)
    for keyword, value in tags.items():
        setattr(ds, keyword, value)
    if compress is not None:
        ds.compress(compress)
    ds.save_as(path, enforce_file_format=True)
    return path


def _error(path: Path) -> str:
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    message = str(info.value)
    assert message and "\n" not in message and message.endswith("."), message
    return message


def _check_invariants(img: XRayImage) -> None:
    assert img.pixels.dtype == np.float32 and img.pixels.ndim == 2
    assert 0.0 <= img.pixels.min() and img.pixels.max() <= 1.0
    assert not img.pixels.flags.writeable
    assert (img.height, img.width) == img.pixels.shape
    assert img.info["Size"] == f"{img.width} x {img.height} px"
    hash(img)  # frozen value object: usable as a dict key despite the array and dict fields


# ------------------------------------------------------------------- raster formats
def test_png_8bit_values_and_hash(tmp_path: Path) -> None:
    arr = _gradient()
    path = _save(tmp_path / "chest.png", Image.fromarray(arr.astype(np.uint8)), "PNG")
    img = load_image(str(path))  # str paths are accepted too
    _check_invariants(img)
    np.testing.assert_allclose(img.pixels, arr / 255.0, atol=1e-6)
    assert (img.format, img.bits_stored, img.pixel_spacing_mm) == ("PNG", 8, None)
    assert img.source_path == path
    assert img.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert img.info["Format"] == "PNG" and img.info["Size"] == "48 x 32 px"


def test_16bit_png_full_range_uses_65535(tmp_path: Path) -> None:
    arr = _gradient(top=65535).astype(np.uint16)
    path = _save(tmp_path / "a.png", Image.fromarray(arr), "PNG")
    img = load_image(path)
    assert img.bits_stored == 16 and img.pixels.max() == pytest.approx(1.0)
    np.testing.assert_allclose(img.pixels, arr / 65535.0, atol=1e-6)


def test_12bit_data_in_16bit_png_is_scaled_by_4095(tmp_path: Path) -> None:
    arr = _gradient(top=4095).astype(np.uint16)
    path = _save(tmp_path / "a.png", Image.fromarray(arr), "PNG")
    img = load_image(path)
    assert img.bits_stored == 12 and "inferred" in img.info["Bit depth"]
    np.testing.assert_allclose(img.pixels, arr / 4095.0, atol=1e-6)


def test_big_endian_16bit_tiff(tmp_path: Path) -> None:
    arr = _gradient(top=65535).astype(np.uint16)
    im = Image.frombytes("I;16B", (arr.shape[1], arr.shape[0]), arr.astype(">u2").tobytes())
    img = load_image(_save(tmp_path / "a.tif", im, "TIFF"))
    assert img.format == "TIFF" and img.bits_stored == 16
    np.testing.assert_allclose(img.pixels, arr / 65535.0, atol=1e-6)


def test_float_and_signed_int_tiffs_are_stretched_min_to_max(tmp_path: Path) -> None:
    floats = (_gradient() - 100.0).astype(np.float32) * 0.01
    img = load_image(_save(tmp_path / "f.tif", Image.fromarray(floats, "F"), "TIFF"))
    np.testing.assert_allclose(img.pixels, (floats - floats.min()) / np.ptp(floats), atol=1e-6)

    ints = (_gradient(top=200000) - 70000).astype(np.int32)
    img = load_image(_save(tmp_path / "i.tif", Image.fromarray(ints, "I"), "TIFF"))
    assert img.pixels[0, 0] == 0.0 and img.pixels[-1, -1] == pytest.approx(1.0)


def test_constant_images_do_not_divide_by_zero(tmp_path: Path) -> None:
    const_f = Image.fromarray(np.full((20, 20), 3.5, np.float32), "F")
    img = load_image(_save(tmp_path / "f.tif", const_f, "TIFF"))
    assert np.isfinite(img.pixels).all() and (img.pixels == 0).all()
    img = load_image(_save(tmp_path / "g.png", Image.new("L", (20, 20), 51), "PNG"))
    assert np.allclose(img.pixels, 0.2)


def test_rgb_bmp_becomes_luminance(tmp_path: Path) -> None:
    im = Image.new("RGB", (40, 20), (255, 0, 0))
    im.paste((0, 255, 0), (20, 0, 40, 20))
    img = load_image(_save(tmp_path / "a.bmp", im, "BMP"))
    assert img.format == "BMP" and img.info["Colour mode"].startswith("RGB")
    assert img.pixels[10, 5] == pytest.approx(0.299, abs=0.005)  # ITU-R 601 luma of red
    assert img.pixels[10, 30] == pytest.approx(0.587, abs=0.005)


def test_the_share_of_clearly_coloured_pixels_is_measured(tmp_path: Path) -> None:
    # A grey film saved as colour JPEG: compression noise is no colour.
    grey = Image.fromarray(_gradient().astype(np.uint8)).convert("RGB")
    img = load_image(_save(tmp_path / "grey.jpg", grey, "JPEG", quality=60))
    assert img.colour_share == 0.0 and img.info["Colour mode"] == "RGB, converted to grayscale"
    # A quarter of it under a blue mark; a faint warm cast (channels 20 of 255 apart) is not colour.
    drawn = Image.new("RGB", (2400, 200), (120, 110, 100))
    drawn.paste((30, 60, 200), (0, 0, 600, 200))
    img = load_image(_save(tmp_path / "drawn.png", drawn, "PNG"))
    assert img.colour_share == pytest.approx(0.25, abs=0.01)  # read on a copy halved in size
    assert img.info["Colour mode"] == "RGB, converted to grayscale (25% of pixels in colour)"
    assert load_image(_save(tmp_path / "g.png", Image.new("L", (20, 20), 51), "PNG")).colour_share == 0.0


def test_palette_and_rgba_pngs(tmp_path: Path) -> None:
    arr = _gradient().astype(np.uint8)
    pal = Image.fromarray(arr).convert("P")
    img = load_image(_save(tmp_path / "p.png", pal, "PNG"))
    np.testing.assert_allclose(img.pixels, arr / 255.0, atol=0.01)
    rgba = Image.fromarray(np.dstack([arr, arr, arr, np.zeros_like(arr)]), "RGBA")
    img = load_image(_save(tmp_path / "r.png", rgba, "PNG"))  # alpha ignored, not black
    np.testing.assert_allclose(img.pixels, arr / 255.0, atol=0.01)


def test_cmyk_jpeg_white_and_black_are_not_swapped(tmp_path: Path) -> None:
    im = Image.new("CMYK", (64, 32), (0, 0, 0, 0))  # no ink: white paper
    im.paste((0, 0, 0, 255), (32, 0, 64, 32))  # full black ink
    img = load_image(_save(tmp_path / "cmyk.jpg", im, "JPEG", quality=95))
    assert img.format == "JPEG" and "CMYK" in img.info["Colour mode"]
    assert img.pixels[8:24, 4:24].mean() > 0.95
    assert img.pixels[8:24, 40:60].mean() < 0.05


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    im = Image.new("L", (64, 32), 0)
    im.paste(255, (0, 0, 16, 16))  # bright marker at the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    img = load_image(_save(tmp_path / "phone.jpg", im, "JPEG", exif=exif, quality=95))
    assert (img.width, img.height) == (32, 64)
    assert img.pixels[2:14, -14:-2].mean() > 0.9  # marker now at the top-right
    assert img.pixels[2:14, 2:14].mean() < 0.1
    assert img.info["Orientation"] == "EXIF rotation applied"


def test_multipage_tiff_shows_first_page(tmp_path: Path) -> None:
    pages = [Image.new("L", (20, 20), v) for v in (10, 200, 30)]
    path = tmp_path / "stack.tif"
    pages[0].save(path, "TIFF", save_all=True, append_images=pages[1:])
    img = load_image(path)
    assert np.allclose(img.pixels, 10 / 255) and img.info["Frames"] == "3 (showing the first)"


def test_type_comes_from_content_not_suffix(tmp_path: Path) -> None:
    arr = _gradient().astype(np.uint8)
    img = load_image(_save(tmp_path / "really_png.jpg", Image.fromarray(arr), "PNG"))
    assert img.format == "PNG"
    np.testing.assert_allclose(img.pixels, arr / 255.0, atol=1e-6)


def test_supported_suffixes() -> None:
    assert {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".dcm", ".dicom"} == set(
        SUPPORTED_SUFFIXES
    )


# ------------------------------------------------------------------------ bad input
def test_missing_file_directory_empty_and_fifo(tmp_path: Path) -> None:
    assert "does not exist" in _error(tmp_path / "nope.png")
    assert "folder" in _error(tmp_path)
    (tmp_path / "empty.png").write_bytes(b"")
    assert "empty" in _error(tmp_path / "empty.png")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.png")
        assert "not a regular file" in _error(tmp_path / "pipe.png")
        assert not is_dicom_file(tmp_path / "pipe.png")


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _save(tmp_path / "a.png", Image.new("L", (20, 20)), "PNG")

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    # chmod cannot stop root (CI containers), so simulate the OS refusing the read.
    monkeypatch.setattr(Path, "read_bytes", denied)
    assert "not allowed" in _error(path)


def test_file_over_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _save(tmp_path / "a.png", Image.new("L", (20, 20)), "PNG")
    monkeypatch.setattr(imaging, "MAX_FILE_BYTES", 10)
    assert "larger than" in _error(path)


def test_text_file_renamed_png(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("Patient notes, definitely not pixels.\n" * 20)
    assert "is not a PNG, JPEG, BMP, TIFF or DICOM image" in _error(path)
    (tmp_path / "notes.dcm").write_text("also not DICOM\n" * 20)
    assert "is not a PNG, JPEG" in _error(tmp_path / "notes.dcm")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_files_are_refused(tmp_path: Path, fmt: str) -> None:
    noise = Image.fromarray(RNG.integers(0, 256, (128, 128), dtype=np.uint8))
    path = _save(tmp_path / f"cut.{fmt.lower()}", noise, fmt)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 6 // 10])
    assert not ImageFile.LOAD_TRUNCATED_IMAGES  # the behaviour under test depends on it
    assert "damaged" in _error(path)
    path.write_bytes(data[:20])  # cut inside the header
    assert "damaged" in _error(path) or "is not a" in _error(path)


def test_gif_is_refused(tmp_path: Path) -> None:
    frames = [Image.new("L", (32, 32), v) for v in (0, 128, 255)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, "GIF", save_all=True, append_images=frames[1:], duration=50)
    assert "GIF" in _error(path)


def test_tiny_image_is_refused(tmp_path: Path) -> None:
    assert "at least 16 pixels" in _error(_save(tmp_path / "t.png", Image.new("L", (8, 40)), "PNG"))


@pytest.fixture
def decode_calls(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Records every full pixel decode, to prove bombs are refused from the header alone."""
    calls: list[object] = []
    original = ImageFile.ImageFile.load

    def spy(self: ImageFile.ImageFile) -> object:
        calls.append(self)
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    return calls


@pytest.mark.parametrize("pillow_limit", ["default", None])
def test_decompression_bomb_refused_from_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, decode_calls: list[object], pillow_limit
) -> None:
    if pillow_limit is None:  # our own MAX_PIXELS check must hold even with Pillow's off
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    message = _error(_huge_png(tmp_path / "bomb.png", 30000, 30000))
    assert "pixels" in message and decode_calls == []


@pytest.mark.filterwarnings("error")  # Pillow's DecompressionBombWarning must not leak
def test_image_between_pillow_warning_and_our_limit_is_refused(
    tmp_path: Path, decode_calls: list[object]
) -> None:
    side = 12500  # 156 M pixels: Pillow only warns, MAX_PIXELS refuses
    assert side * side > MAX_PIXELS and side * side < 2 * Image.MAX_IMAGE_PIXELS
    assert "larger than the 150 million pixels" in _error(_huge_png(tmp_path / "b.png", side, side))
    assert decode_calls == []


# ---------------------------------------------------------------------------- DICOM
STORED = np.array([[0, 1000, 2000, 4095]] * 4, dtype=np.uint16).repeat(8, 0).repeat(8, 1)


def test_dicom_rescale_then_window(tmp_path: Path) -> None:
    # Rescale 2x - 1024 maps the stored columns to -1024, 976, 2976, 7166. The window
    # (C 976 / W 2000) puts 976 at mid-grey, -1024 below it, 2976 and up above it.
    path = _dicom(
        tmp_path / "dx.dcm", STORED, RescaleSlope=2, RescaleIntercept=-1024,
        WindowCenter=976, WindowWidth=2000, PixelSpacing=[0.15, 0.2], BodyPartExamined="CHEST",
        StudyDate="20240131", Manufacturer="Acme", ViewPosition="PA",
    )
    img = load_image(path)
    _check_invariants(img)
    cols = img.pixels[0, ::8]
    assert cols[0] == 0.0 and cols[2] == 1.0 and cols[3] == 1.0
    assert cols[1] == pytest.approx(0.5, abs=1e-3)
    assert (img.format, img.bits_stored, img.pixel_spacing_mm) == ("DICOM", 12, (0.15, 0.2))
    assert img.info["Window"] == "C 976 / W 2000"
    assert img.info["Body part"] == "CHEST" and img.info["Study date"] == "2024-01-31"
    assert img.info["Modality"] == "DX" and img.info["View"] == "PA"
    assert img.info["Transfer syntax"] == "Explicit VR Little Endian"
    assert img.info["Pixel spacing"] == "0.15 x 0.2 mm"


def test_dicom_multiple_windows_uses_the_first(tmp_path: Path) -> None:
    path = _dicom(tmp_path / "w.dcm", STORED, WindowCenter=[1000, 3000], WindowWidth=[1000, 10])
    img = load_image(path)
    assert img.pixels[0, 8] == pytest.approx(0.5, abs=1e-3)  # with the second it would be 0
    assert img.info["Window"] == "C 1000 / W 1000 (first of 2)"


def test_dicom_window_wider_than_signed_data_is_not_stretched(tmp_path: Path) -> None:
    # Signed CT-like values; the window is 10x wider than the data, so the output must stay
    # near mid-grey: a min/max stretch of the windowed values would wrongly give 0 and 1.
    stored = np.array([[-1000, 0, 1000]] * 16, dtype=np.int16).repeat(8, 1)
    path = _dicom(tmp_path / "ct.dcm", stored, bits_stored=16, WindowCenter=0, WindowWidth=20000)
    cols = load_image(path).pixels[0, ::8]
    np.testing.assert_allclose(cols, [0.45, 0.5, 0.55], atol=1e-3)


def test_dicom_voi_lut_sequence_is_preferred_to_the_window(tmp_path: Path) -> None:
    from pydicom.dataset import Dataset

    lut = Dataset()
    lut.LUTDescriptor = [4096, 0, 16]  # claims 16-bit entries; the table only reaches 4095
    lut.add_new(0x00283006, "US", list(range(4095, -1, -1)))  # LUTData: an inverting table
    lut.LUTExplanation = "Inverted"
    path = _dicom(
        tmp_path / "lut.dcm", STORED, VOILUTSequence=[lut], WindowCenter=1, WindowWidth=2
    )
    img = load_image(path)
    np.testing.assert_allclose(
        img.pixels[0, ::8], 1 - np.array([0, 1000, 2000, 4095]) / 4095, atol=1e-6
    )
    assert img.info["Window"] == "Inverted"


def test_dicom_without_window_uses_min_max_and_imager_spacing(tmp_path: Path) -> None:
    path = _dicom(
        tmp_path / "n.dcm", STORED + 100, bits_stored=13, ImagerPixelSpacing=[0.1, 0.1]
    )
    img = load_image(path)
    np.testing.assert_allclose(img.pixels[0, ::8], np.array([0, 1000, 2000, 4095]) / 4095)
    assert "Window" not in img.info
    assert img.pixel_spacing_mm == (0.1, 0.1) and "detector" in img.info["Pixel spacing"]


def test_dicom_monochrome1_is_inverted(tmp_path: Path) -> None:
    img = load_image(_dicom(tmp_path / "m1.dcm", STORED, photometric="MONOCHROME1"))
    assert img.pixels[0, 0] == 1.0 and img.pixels[0, -1] == 0.0  # low values are bright
    assert "inverted" in img.info["Photometric"]


def test_dicom_multiframe_shows_first_frame(tmp_path: Path) -> None:
    frames = np.stack([STORED, STORED[:, ::-1], STORED // 2])
    img = load_image(_dicom(tmp_path / "mf.dcm", frames))
    np.testing.assert_allclose(img.pixels[0, ::8], np.array([0, 1000, 2000, 4095]) / 4095)
    assert img.info["Frames"] == "3 (showing the first)"


def test_dicom_rgb_becomes_gray(tmp_path: Path) -> None:
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[..., 0] = 255
    img = load_image(_dicom(tmp_path / "rgb.dcm", rgb, photometric="RGB", bits_stored=8))
    assert img.pixels.mean() == pytest.approx(0.299, abs=1e-3)
    assert img.colour_share == 1.0  # a red screen capture is no radiograph
    grey = np.repeat(STORED[..., None] >> 4, 3, axis=-1).astype(np.uint8)
    assert load_image(_dicom(tmp_path / "grey.dcm", grey, photometric="RGB", bits_stored=8)).colour_share == 0.0


def test_dicom_without_pixel_data(tmp_path: Path) -> None:
    assert "no pixel data" in _error(_dicom(tmp_path / "sr.dcm", None))


@pytest.mark.parametrize("name", ["IM000001", "looks_like.png"])
def test_dicom_recognised_by_content(tmp_path: Path, name: str) -> None:
    path = _dicom(tmp_path / name, STORED)
    assert is_dicom_file(path)
    assert load_image(path).format == "DICOM"


def test_is_dicom_file_rejects_others(tmp_path: Path) -> None:
    assert not is_dicom_file(_save(tmp_path / "a.dcm", Image.new("L", (20, 20)), "PNG"))
    assert not is_dicom_file(tmp_path / "missing.dcm")


def test_dicom_with_truncated_pixel_data(tmp_path: Path) -> None:
    path = _dicom(tmp_path / "cut.dcm", STORED)
    path.write_bytes(path.read_bytes()[:-300])
    assert "damaged" in _error(path)


@pytest.mark.parametrize(
    "syntax", [uid.RLELossless, uid.JPEGLSLossless, uid.JPEG2000Lossless], ids=str
)
def test_compressed_dicom_decodes_losslessly(tmp_path: Path, syntax: str) -> None:
    arr = (RNG.integers(0, 4096, (64, 48))).astype(np.uint16)
    reference = load_image(_dicom(tmp_path / "raw.dcm", arr, WindowCenter=2048, WindowWidth=4096))
    img = load_image(
        _dicom(tmp_path / "c.dcm", arr, compress=syntax, WindowCenter=2048, WindowWidth=4096)
    )
    np.testing.assert_array_equal(img.pixels, reference.pixels)
    assert img.info["Transfer syntax"] == uid.UID(syntax).name


def test_core_imaging_stays_free_of_qt_and_onnxruntime() -> None:
    code = (
        "import sys, desktop.core.imaging, desktop.core.dicom;"
        "bad = {'PySide6', 'onnxruntime'} & set(sys.modules); assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


def test_dicom_patient_orientation_and_laterality_name_the_sides(tmp_path: Path) -> None:
    standard = load_image(_dicom(tmp_path / "pa.dcm", STORED, PatientOrientation=["L", "F"]))
    assert standard.film_sides is not None and standard.film_sides.across == "L" and standard.film_sides.down is None
    assert standard.info["Sides"] == "patient's right on the image left"
    one_knee = load_image(_dicom(tmp_path / "r.dcm", STORED, ImageLaterality="R"))
    assert one_knee.film_sides is not None and one_knee.film_sides.laterality == "R"
    assert one_knee.info["Sides"] == "right side only"
    silent = load_image(_dicom(tmp_path / "none.dcm", STORED, PatientOrientation=["A", "F"], ImageLaterality="B"))
    assert silent.film_sides is None and "Sides" not in silent.info
