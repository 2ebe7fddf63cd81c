"""A short tour of the scribblesim Python API on the embedded COCO sample.

Run ``python examples/simulate_api.py [OUT.png]``: it simulates scribbles for one image
with two seeds ("annotators") and writes an overlay PNG of the image with both
annotators' scribbles in the class palette.
"""

import sys

import numpy as np
from PIL import Image

import scribblesim
from scribblesim.datasets.coco import coco_samples
from scribblesim.datasets.sample import COCO_SAMPLE_SPLIT, coco_sample_root
from scribblesim.sets.palette import overlay

# 1. Any instance masks work: here, one image of the embedded COCO sample.
sample = coco_samples(coco_sample_root(), COCO_SAMPLE_SPLIT)[3].load()
print(f"image {sample.name}: {len(sample.classes)} objects, classes {sample.classes.tolist()}")

# 2. One call per image; the seed is the annotator.
panels = []
for seed in (1, 2):
    result = scribblesim.simulate(
        sample.masks, sample.classes, seed=seed, image_id=sample.image_id, ignore=sample.ignore
    )
    styles = [stroke.style for stroke in result.strokes]
    print(f"seed {seed}: {len(result.strokes)} strokes {styles}, skipped {[skip.reason for skip in result.skipped]}")
    # 3. Overlay: scribbles in the class palette (background in white) over the image.
    image = np.asarray(Image.open(sample.image_path).convert("RGB"))
    panels.append(overlay(image, result.label_map))

out = sys.argv[1] if len(sys.argv) > 1 else "simulate_api_overlay.png"
Image.fromarray(np.concatenate(panels, axis=1)).save(out)
print(f"wrote {out} (left: seed 1, right: seed 2)")
