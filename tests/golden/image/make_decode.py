#!/usr/bin/env python3
"""Golden data for common/image/decode*.c (tests/test_image_decode.c): tiny PNG/JPEG/WebP files and
what diffusers.utils.load_image makes of them (PIL.Image.open -> ImageOps.exif_transpose ->
convert("RGB")).

Writes under decode/ next to this script, for each case NAME:
  NAME.png|jpg|webp   the file (made by Pillow, or by the small PNG writer below where Pillow
                      cannot write that variant: 16-bit RGB, 4-bit grey, Adam7 interlaced)
  NAME.rgb            the expected pixels, rows of R,G,B
and decode/cases.txt: "NAME FILE WIDTH HEIGHT TOLERANCE" (max |delta| allowed per byte).
Tolerance 0 everywhere except lossy codecs decoded by different library builds (Pillow's wheel
bundles libjpeg-turbo 3.x and libwebp 1.6; the C side uses Debian's libjpeg-turbo 2.1.5 and
libwebp 1.2.4): the test prints the achieved max |delta| and the tolerance here is the bound.
One expected image is NOT Pillow's: grey16 (PIL opens 16-bit grey as I;16 and convert("RGB")
clips it to 0..255; ours keeps the high byte, like PIL does for 16-bit colour). The recipe
asserts that Pillow indeed differs there, so the README's claim stays true.
Usage: /work/venv/bin/python tests/golden/image/make_decode.py
"""
import io
import os
import struct
import zlib

import numpy as np
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "decode")
W, H = 17, 13  # odd: partial JPEG MCUs, chroma upsampling at the edges


def pattern(seed):
    """Smooth gradients with a block of noise and a hard edge: JPEG-friendly but not trivial."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:H, 0:W]
    a = np.stack([x * 255 // (W - 1), y * 255 // (H - 1), 255 - (x + y) * 255 // (W + H - 2)], -1)
    a[3:7, 4:10] = rng.integers(0, 256, (4, 6, 3))
    a[9:, 12:] = (250, 20, 30)
    return a.astype(np.uint8)


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_raw(width, height, depth, color, rows, interlace=0):
    """A PNG from already-packed scanlines (filter byte 0 each), for variants Pillow cannot save."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) +
            png_chunk(b"IDAT", zlib.compress(b"".join(b"\x00" + r for r in rows), 9)) + png_chunk(b"IEND", b""))


def adam7_rows(a, bpp):
    """Scanlines of the 7 Adam7 passes of an 8-bit image a[h, w, c] (each row starts a filter byte later)."""
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    rows = []
    for x0, y0, dx, dy in passes:
        sub = a[y0::dy, x0::dx]
        if sub.size:
            rows.extend(sub[r].tobytes() for r in range(sub.shape[0]))
    return rows


def exif_with_orientation(value):
    ex = Image.Exif()
    ex[0x0112] = value
    return ex.tobytes()


def load_image(data):
    """diffusers.utils.load_image on bytes: open, exif_transpose, convert("RGB")."""
    im = Image.open(io.BytesIO(data))
    im = ImageOps.exif_transpose(im)
    return np.asarray(im.convert("RGB"), dtype=np.uint8)


def main():
    os.makedirs(OUT, exist_ok=True)
    base = pattern(1)
    alpha = np.tile(np.linspace(0, 255, W, dtype=np.uint8), (H, 1))
    alpha[:, :3] = 0  # fully transparent columns with colour under them
    cases = []  # (name, ext, bytes, expected or None for Pillow's, tolerance)

    def save(im, fmt, **kw):
        b = io.BytesIO()
        im.save(b, fmt, **kw)
        return b.getvalue()

    rgb = Image.fromarray(base, "RGB")
    rgba = Image.fromarray(np.dstack([base, alpha]), "RGBA")
    grey = rgb.convert("L")
    # --- PNG: exact
    cases.append(("png_rgb", "png", save(rgb, "PNG"), None, 0))
    cases.append(("png_rgba", "png", save(rgba, "PNG"), None, 0))
    cases.append(("png_grey", "png", save(grey, "PNG"), None, 0))
    cases.append(("png_grey_alpha", "png", save(Image.merge("LA", (grey, Image.fromarray(alpha))), "PNG"), None, 0))
    pal = rgb.quantize(colors=13)
    cases.append(("png_palette", "png", save(pal, "PNG", transparency=2), None, 0))
    cases.append(("png_bilevel", "png", save(grey.convert("1"), "PNG"), None, 0))
    cases.append(("png_exif6", "png", save(rgb, "PNG", exif=exif_with_orientation(6)), None, 0))
    # 16-bit RGB (PIL unpacks RGB;16B: the high byte)
    wide = base.astype(">u2") * 257 + np.arange(W, dtype=">u2")[None, :, None]  # low byte varies
    cases.append(("png_rgb16", "png", png_raw(W, H, 16, 2, [wide[r].tobytes() for r in range(H)]), None, 0))
    # 16-bit grey: ours = high byte; PIL clips I;16 (asserted below)
    g16 = (np.asarray(grey, dtype=np.uint16) * 257).astype(">u2")
    data = png_raw(W, H, 16, 0, [g16[r].tobytes() for r in range(H)])
    ours = np.repeat((g16 >> 8).astype(np.uint8)[:, :, None], 3, axis=2)
    assert not np.array_equal(load_image(data), ours), "Pillow now scales 16-bit grey: update README/decode.h"
    cases.append(("png_grey16", "png", data, ours, 0))
    # 4-bit grey (PIL L;4 scales by 17)
    g4 = (np.asarray(grey, dtype=np.uint8) >> 4)
    packed = []
    for r in range(H):
        row = list(g4[r]) + ([0] if W % 2 else [])
        packed.append(bytes((row[i] << 4) | row[i + 1] for i in range(0, len(row), 2)))
    cases.append(("png_grey4", "png", png_raw(W, H, 4, 0, packed), None, 0))
    # Adam7 interlaced RGB
    cases.append(("png_interlaced", "png", png_raw(W, H, 8, 2, adam7_rows(base, 3), interlace=1), None, 0))
    # --- JPEG (lossy; different libjpeg-turbo builds -> small tolerance)
    cases.append(("jpeg_baseline", "jpg", save(rgb, "JPEG", quality=90), None, 2))
    cases.append(("jpeg_444", "jpg", save(rgb, "JPEG", quality=95, subsampling=0), None, 2))
    cases.append(("jpeg_progressive", "jpg", save(rgb, "JPEG", quality=85, progressive=True), None, 2))
    cases.append(("jpeg_grey", "jpg", save(grey, "JPEG", quality=90), None, 2))
    cases.append(("jpeg_exif6", "jpg", save(rgb, "JPEG", quality=90, exif=exif_with_orientation(6)), None, 2))
    cases.append(("jpeg_exif3", "jpg", save(rgb, "JPEG", quality=90, exif=exif_with_orientation(3)), None, 2))
    cases.append(("jpeg_exif8", "jpg", save(rgb, "JPEG", quality=90, exif=exif_with_orientation(8)), None, 2))
    cases.append(("jpeg_exif5", "jpg", save(rgb, "JPEG", quality=90, exif=exif_with_orientation(5)), None, 2))
    cases.append(("jpeg_cmyk", "jpg", save(rgb.convert("CMYK"), "JPEG", quality=95), None, 2))
    # --- WebP
    cases.append(("webp_lossless", "webp", save(rgb, "WEBP", lossless=True), None, 0))
    cases.append(("webp_lossless_alpha", "webp", save(rgba, "WEBP", lossless=True, exact=True), None, 0))
    cases.append(("webp_lossy", "webp", save(rgb, "WEBP", quality=80), None, 3))
    cases.append(("webp_lossy_alpha", "webp", save(rgba, "WEBP", quality=80), None, 3))
    frame2 = Image.fromarray(255 - base, "RGB")
    cases.append(("webp_animated", "webp", save(rgb, "WEBP", lossless=True, save_all=True,
                                                 append_images=[frame2], duration=100, loop=0), None, 0))
    cases.append(("webp_exif6", "webp", save(rgb, "WEBP", lossless=True, exif=exif_with_orientation(6)), None, 0))

    lines = []
    for name, ext, data, expected, tol in cases:
        if expected is None:
            expected = load_image(data)
        fname = f"{name}.{ext}"
        with open(os.path.join(OUT, fname), "wb") as fp:
            fp.write(data)
        with open(os.path.join(OUT, f"{name}.rgb"), "wb") as fp:
            fp.write(np.ascontiguousarray(expected).tobytes())
        lines.append(f"{name} {fname} {expected.shape[1]} {expected.shape[0]} {tol}")
    with open(os.path.join(OUT, "cases.txt"), "w") as fp:
        fp.write("\n".join(lines) + "\n")
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"{len(cases)} cases, {total} bytes in {OUT}")


if __name__ == "__main__":
    main()
