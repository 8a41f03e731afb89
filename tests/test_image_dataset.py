"""Image decoding (reid_gc.data.image_dataset.read_image): every PNG/JPEG mode a dataset may hold gives the
right 8-bit RGB pixels. The 16-bit files are written by a small PNG encoder here, not by PIL."""
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from reid_gc.data.image_dataset import read_image
from reid_gc.utils.errors import UserError


def write_png(path, pixels, color_type, depth):
    """A minimal PNG (one IDAT, filter 0 on every row) of `pixels` (H, W, channels) at bit depth `depth`."""
    h, w = pixels.shape[:2]
    dtype = ">u2" if depth == 16 else "u1"
    raw = b"".join(b"\x00" + pixels[y].astype(dtype).tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + body)


def rgb(path):
    img = read_image(str(path))
    assert img.mode == "RGB"
    return np.asarray(img)


def test_16_bit_grey_png_is_scaled_not_clipped(tmp_path):
    levels = np.array([[[0], [65535], [25700], [30000], [128]]])
    write_png(tmp_path / "g16.png", levels, color_type=0, depth=16)
    # 8-bit level = round(v * 255 / 65535): 0, 255, 100, 116.7 -> 117, 0.5 -> 0
    want = np.array([0, 255, 100, 117, 0], dtype=np.uint8)
    assert np.array_equal(rgb(tmp_path / "g16.png"), np.repeat(want[None, :, None], 3, axis=2))


def test_16_bit_rgb_png(tmp_path):
    px = np.array([[[0, 30000, 65535], [2570, 51400, 12345]]])
    write_png(tmp_path / "rgb16.png", px, color_type=2, depth=16)
    # each channel's high byte, i.e. v // 256 (= round(v / 257) for these values)
    assert np.array_equal(rgb(tmp_path / "rgb16.png"), np.array([[[0, 117, 255], [10, 200, 48]]], dtype=np.uint8))


def test_8_bit_grey_png(tmp_path):
    write_png(tmp_path / "g8.png", np.array([[[0], [7], [255]]]), color_type=0, depth=8)
    assert np.array_equal(rgb(tmp_path / "g8.png"), np.array([[[0] * 3, [7] * 3, [255] * 3]], dtype=np.uint8))


@pytest.mark.parametrize("depth", [8, 16])
def test_rgba_and_grey_alpha_keep_their_colours(tmp_path, depth):
    scale = 257 if depth == 16 else 1  # 257 * v has high byte v
    rgba = np.array([[[10, 20, 30, 0], [200, 100, 50, 255]]]) * scale
    write_png(tmp_path / "rgba.png", rgba, color_type=6, depth=depth)
    assert np.array_equal(rgb(tmp_path / "rgba.png"), np.array([[[10, 20, 30], [200, 100, 50]]], dtype=np.uint8))
    grey_alpha = np.array([[[40, 0], [90, 255]]]) * scale
    write_png(tmp_path / "la.png", grey_alpha, color_type=4, depth=depth)
    assert np.array_equal(rgb(tmp_path / "la.png"), np.array([[[40] * 3, [90] * 3]], dtype=np.uint8))


def test_palette_png(tmp_path):
    img = Image.new("P", (3, 1))
    palette = [255, 0, 0, 0, 128, 0, 1, 2, 3] + [0] * (256 * 3 - 9)
    img.putpalette(palette)
    img.putdata([2, 0, 1])
    img.save(tmp_path / "p.png")
    assert np.array_equal(rgb(tmp_path / "p.png"), np.array([[[1, 2, 3], [255, 0, 0], [0, 128, 0]]], dtype=np.uint8))


def test_32_bit_float_tiff_is_scaled_from_one(tmp_path):
    Image.fromarray(np.array([[0.0, 0.5, 1.0, 2.0]], dtype=np.float32), mode="F").save(tmp_path / "f.tif")
    assert np.array_equal(rgb(tmp_path / "f.tif")[..., 0], np.array([[0, 128, 255, 255]], dtype=np.uint8))


def test_undecodable_file_is_a_user_error(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match="bad.png cannot be decoded"):
        read_image(str(tmp_path / "bad.png"))
