"""Segment an image with a model csptrain trained, from Python.

Run ``python examples/predict_api.py CHECKPOINT IMAGE [OUT.png]``: CHECKPOINT is a stage-2
run's ``last.pt`` (``csptrain stage2 --out RUN`` or ``csptrain run``'s ``RUNS/r1/stage2``).
It prints the classes found in IMAGE and writes its label map, class ids as 8-bit gray
values, to OUT.png (default ``labels.png``).
"""

import sys

import numpy as np
from PIL import Image

import csptrain

checkpoint, image_path = sys.argv[1], sys.argv[2]
out = sys.argv[3] if len(sys.argv) > 3 else "labels.png"

# 1. The checkpoint carries its own settings: classes, segmentor, normalisation, crop.
model = csptrain.load_model(checkpoint, device="auto")
print(f"{checkpoint}: {model.num_classes} classes, {model.config.segmentor} {model.config.backbone}, step {model.step}")

# 2. Any RGB (H, W, 3) or grayscale (H, W) uint8 image, at its own size.
image = np.asarray(Image.open(image_path).convert("RGB"))
labels = model.predict(image)  # (H, W) class ids; protocol="authors" for the evaluation's windows

# 3. What it found, and the label map as a PNG of class ids.
ids, counts = np.unique(labels, return_counts=True)
for k, count in zip(ids, counts):
    print(f"class {k}: {100 * count / labels.size:.1f} % of the pixels")
Image.fromarray(labels).save(out)
print(f"wrote {out} ({labels.shape[1]} x {labels.shape[0]})")
