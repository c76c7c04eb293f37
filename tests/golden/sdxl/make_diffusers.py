#!/usr/bin/env python3
"""Golden listing for tests/test_sdxl_diffusers.c: the tensor names and shapes of the diffusers
folder that StableDiffusionXLPipeline.save_pretrained writes for the tiny model.

The pipeline is assembled exactly as make_pipeline.py does (its build() and make_tokenizers():
configs matching tools/mkmodel "tiny", diffusers' single-file converters, strict loads), then
saved with save_pretrained(safe_serialization=True). The listing records, for every
*.safetensors file under the folder (path relative to the folder), every tensor's name, dtype
and shape, sorted. The C test writes a folder from the same single file with its own sgm ->
diffusers translation (workers/sdxl/diffusers_names.c) and requires exactly this listing, which
proves the C side writes (and therefore reads) the layout diffusers really uses.

Usage:
  build/bin/ourvidz-mkmodel sdxl --preset tiny --out /tmp/sdxl_tiny
  /work/venv/bin/python tests/golden/sdxl/make_diffusers.py /tmp/sdxl_tiny/model.safetensors [OUT.gz [KEEP_DIR]]
Optional 3rd argument: a folder to keep a copy of the saved pipeline in (for loading it with
ourvidz-sdxl --model FOLDER by hand).
Writes diffusers_listing.txt.gz beside this script: lines "file<TAB>name<TAB>dtype<TAB>d0,d1,..."
plus a first line "# model_index.json components: ..." (informational).
"""
import gzip
import json
import os
import shutil
import sys
import tempfile

import torch
from safetensors import safe_open
from safetensors.torch import load_file
from diffusers import StableDiffusionXLPipeline

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_pipeline  # noqa: E402  (build(), make_tokenizers(), scheduler())


def main():
    model = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "diffusers_listing.txt.gz")
    sd = load_file(model)
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        tok1, tok2 = make_pipeline.make_tokenizers(tmp)
        te1, te2, unet, vae = make_pipeline.build(sd)
        pipe = StableDiffusionXLPipeline(vae=vae, text_encoder=te1, text_encoder_2=te2, tokenizer=tok1,
                                         tokenizer_2=tok2, unet=unet, scheduler=make_pipeline.scheduler("euler"),
                                         force_zeros_for_empty_prompt=True, add_watermarker=False)
        folder = os.path.join(tmp, "pipe")
        pipe.save_pretrained(folder, safe_serialization=True)
        if len(sys.argv) > 3:
            shutil.copytree(folder, sys.argv[3], dirs_exist_ok=True)
        with open(os.path.join(folder, "model_index.json")) as f:
            mi = json.load(f)
        comps = sorted(k for k, v in mi.items() if isinstance(v, list))
        for root, _, files in os.walk(folder):
            for fn in files:
                if not fn.endswith(".safetensors"):
                    continue
                path = os.path.join(root, fn)
                rel = os.path.relpath(path, folder)
                with safe_open(path, "pt") as f:
                    for k in f.keys():
                        sl = f.get_slice(k)
                        lines.append("%s\t%s\t%s\t%s" % (rel, k, sl.get_dtype(), ",".join(str(d) for d in sl.get_shape())))
    lines.sort()
    with gzip.GzipFile(out, "wb", mtime=0) as g:
        g.write(("# model_index.json components: %s\n" % " ".join(comps)).encode())
        g.write(("\n".join(lines) + "\n").encode())
    print("%s: %d tensors (torch %s)" % (out, len(lines), torch.__version__))


if __name__ == "__main__":
    main()
