"""Before/after figure for the photo models: the same few hints, v1 vs v2 vs Levin 2004.

    python bench/figure_photo.py --out docs/photo_v2_comparison.png

Three scikit-image photos at 256 px on the long side; each gets the same 6 hints (6x6
patches of the ground-truth mean colour, at fixed well-spread places), drawn as ringed dots
on the input. Columns: input with hints, photo-net-v1, photo-net-v2, Levin et al. 2004,
ground truth; the PSNR of each result is written under it.
"""

from __future__ import annotations

import argparse
import pathlib

import numpy as np
import torch
from PIL import Image, ImageDraw
from skimage import data as skdata

from chromahint.color import lab_to_rgb
from chromahint.models.base import Hint
from chromahint.models.levin import LevinColorizer
from chromahint.train.evaluate_photo import PATCH, load_photo, psnr, split_lab

WEIGHTS = pathlib.Path(__file__).resolve().parents[1] / "weights"
PHOTOS = ("astronaut", "coffee", "chelsea")
# Hint places as fractions of (width, height): spread out, as a person might click.
PLACES = ((0.2, 0.25), (0.75, 0.2), (0.5, 0.5), (0.25, 0.75), (0.8, 0.7), (0.55, 0.9))


def photo(name: str) -> np.ndarray:
    img = Image.fromarray(getattr(skdata, name)())
    scale = 256 / max(img.size)
    return np.asarray(img.resize((round(img.width * scale), round(img.height * scale))))


def hints_for(ab: np.ndarray) -> list[Hint]:
    _, h, w = ab.shape
    out = []
    for fx, fy in PLACES:
        x, y = int(fx * (w - PATCH)), int(fy * (h - PATCH))
        a, b = ab[:, y : y + PATCH, x : x + PATCH].mean(axis=(1, 2))
        out.append(Hint(x + PATCH / 2, y + PATCH / 2, (float(a), float(b)), PATCH))
    return out


def render(L: np.ndarray, ab: np.ndarray) -> Image.Image:
    lab = np.concatenate([L[None], ab], 0).transpose(1, 2, 0)
    return Image.fromarray(np.round(lab_to_rgb(lab) * 255).astype(np.uint8))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--out", type=pathlib.Path, default=pathlib.Path("docs/photo_v2_comparison.png")
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    models = [
        ("photo-net-v1", load_photo(WEIGHTS / "photo_net.safetensors", "cpu")),
        ("photo-net-v2", load_photo(WEIGHTS / "photo_net_v2.safetensors", "cpu")),
        ("Levin 2004", LevinColorizer()),
    ]
    rows = []
    for name in PHOTOS:
        rgb8 = photo(name)
        L, ab = split_lab(rgb8)
        hints = hints_for(ab)
        gray = render(L, np.zeros_like(ab))
        draw = ImageDraw.Draw(gray)
        for hint in hints:
            colour = render(
                np.full((1, 1), 60.0, np.float32), np.array(hint.ab, np.float32)[:, None, None]
            )
            r = 5
            box = (hint.x - r, hint.y - r, hint.x + r, hint.y + r)
            draw.ellipse(box, fill=colour.getpixel((0, 0)), outline=(255, 255, 255), width=2)
        cells = [(gray, f"{name}: {len(hints)} hints")]
        for label, model in models:
            pred = model.predict(L, hints, with_probs=False).ab
            cells.append((render(L, pred), f"{label} {psnr(rgb8, L, pred):.2f} dB"))
        cells.append((Image.fromarray(rgb8), "ground truth"))
        rows.append(cells)
    w = max(c[0].width for row in rows for c in row)
    h = max(c[0].height for row in rows for c in row)
    sheet = Image.new("RGB", (len(rows[0]) * (w + 8) + 8, len(rows) * (h + 26) + 8), "white")
    draw = ImageDraw.Draw(sheet)
    for r, row in enumerate(rows):
        for c, (img, text) in enumerate(row):
            x, y = 8 + c * (w + 8), 8 + r * (h + 26)
            sheet.paste(img, (x, y))
            draw.text((x, y + img.height + 4), text, fill=(0, 0, 0))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # 256 colours: a docs figure a few hundred KB, not over a megabyte.
    sheet.quantize(colors=256, dither=Image.Dither.NONE).save(args.out, optimize=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
