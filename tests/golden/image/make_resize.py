#!/usr/bin/env python3
"""Golden data for common/image/resize.c (tests/test_image_resize.c): Pillow's resampling of RGB8.

Makes four deterministic RGB source images (uniform random pixels, which drive bicubic and
Lanczos into overshoot and so exercise the clip; smooth gradients; a mix) of odd sizes, then
records what Pillow gives for:
  resize   Image.resize((w, h), f) for BILINEAR, BICUBIC, LANCZOS: downscale by non-integer
           factors, upscale, one axis only (the other pass is skipped), unchanged size (a copy),
           to 1 pixel;
  box      Image.resize((w, h), f, box=(l, t, r, b)) with fractional boxes;
  pad      ImageOps.pad(im, (w, h), f, color=(0, 0, 0))   -> ov_image_fit(OV_FIT_LETTERBOX)
  fit      ImageOps.fit(im, (w, h), f)                    -> ov_image_fit(OV_FIT_CROP)
Writes next to this script:
  resize_src.bin      the sources, concatenated (h·w·3 bytes each, rows of R,G,B)
  resize_golden.bin.gz every output, concatenated, gzip
  resize_golden.txt   one line per case: kind src filter w h offset [l t r b]
                      (src and offsets index the .bin files; the sources are listed first as
                       "src name w h offset")
Usage: /work/venv/bin/python tests/golden/image/make_resize.py
"""
import gzip
import os

import numpy as np
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
FILTERS = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
           "lanczos": Image.Resampling.LANCZOS}


def sources():
    rng = np.random.default_rng(20261127)
    out = {}
    out["noise37x23"] = rng.integers(0, 256, size=(23, 37, 3), dtype=np.uint8)
    y, x = np.mgrid[0:48, 0:64]
    grad = np.stack([x * 255 // 63, y * 255 // 47, (x + y) * 255 // 110], axis=-1).astype(np.uint8)
    out["grad64x48"] = grad
    mix = rng.integers(0, 256, size=(31, 19, 3), dtype=np.uint8)
    mix[:, :9] = np.linspace(0, 255, 31, dtype=np.uint8)[:, None, None]  # vertical ramp on the left
    mix[12:18] = (255, 0, 0)  # a hard red band: ringing at both edges
    out["mix19x31"] = mix
    out["noise5x7"] = rng.integers(0, 256, size=(7, 5, 3), dtype=np.uint8)
    return out


RESIZES = {
    "noise37x23": [(16, 10), (25, 17), (11, 23), (37, 9), (45, 31), (1, 1), (37, 23), (74, 5)],
    "grad64x48": [(24, 18), (41, 29), (64, 20), (9, 48), (71, 53)],
    "mix19x31": [(7, 12), (19, 50), (33, 31), (13, 19)],
    "noise5x7": [(3, 2), (16, 21), (5, 1)],
}
BOXES = {
    "noise37x23": [((12, 12), (3.25, 1.5, 31.75, 20.0)), ((20, 9), (0.0, 0.0, 36.5, 22.75)),
                   ((40, 30), (5.0, 4.0, 15.0, 10.0)), ((10, 6), (5.0, 4.0, 15.0, 10.0))],
    "grad64x48": [((16, 16), (8.0, 0.0, 56.0, 48.0)), ((30, 10), (0.3, 17.7, 63.9, 38.1))],
}
FITS = {
    "noise37x23": [(16, 16), (32, 12), (13, 20), (37, 23), (50, 31), (20, 19)],
    "grad64x48": [(16, 16), (18, 32), (70, 30), (48, 36)],
    "mix19x31": [(24, 24), (8, 20), (25, 29)],
}


def main():
    srcs = sources()
    src_blob, gold_blob, lines = bytearray(), bytearray(), []
    for name, a in srcs.items():
        lines.append(f"src {name} {a.shape[1]} {a.shape[0]} {len(src_blob)}")
        src_blob += a.tobytes()

    def add(kind, name, fname, im, extra=""):
        a = np.asarray(im.convert("RGB"), dtype=np.uint8)
        lines.append(f"{kind} {name} {fname} {a.shape[1]} {a.shape[0]} {len(gold_blob)}{extra}")
        gold_blob.extend(a.tobytes())

    for name, a in srcs.items():
        im = Image.fromarray(a, "RGB")
        for fname, f in FILTERS.items():
            for size in RESIZES.get(name, []):
                add("resize", name, fname, im.resize(size, f))
            for size, box in BOXES.get(name, []):
                # Pillow takes the box as C floats; print them exactly as float32 values.
                b32 = [float(np.float32(v)) for v in box]
                add("box", name, fname, im.resize(size, f, box=box), " " + " ".join(repr(v) for v in b32))
            for size in FITS.get(name, []):
                add("pad", name, fname, ImageOps.pad(im, size, f, color=(0, 0, 0)))
                add("fit", name, fname, ImageOps.fit(im, size, f))
    with open(os.path.join(HERE, "resize_src.bin"), "wb") as fp:
        fp.write(src_blob)
    # gzip with mtime 0 so that a rerun gives the same bytes
    with open(os.path.join(HERE, "resize_golden.bin.gz"), "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=raw, mtime=0) as fp:
            fp.write(gold_blob)
    with open(os.path.join(HERE, "resize_golden.txt"), "w") as fp:
        fp.write("\n".join(lines) + "\n")
    print(f"{len(lines)} lines, sources {len(src_blob)} B, golden {len(gold_blob)} B")


if __name__ == "__main__":
    main()
