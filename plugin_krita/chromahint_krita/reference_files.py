"""Pictures on disk as references: read with Qt's own image readers (JPEG, PNG, WebP, …),
so the plug-in needs nothing else. QImage (not QPixmap) works off the GUI thread too."""

from __future__ import annotations

import os

from PyQt5.QtCore import Qt
from PyQt5.QtGui import QImage

from chromahint_client import protocol as P
from chromahint_client.images import layer_image

REFERENCE_SIDE = 512  # a reference is sent at most this big: matching needs no more


def image_of(img: QImage) -> P.Image:
    """A QImage as the engine's RGBA8 image."""
    img = img.convertToFormat(QImage.Format_RGBA8888)
    data = img.constBits().asstring(img.sizeInBytes())
    stride, row = img.bytesPerLine(), 4 * img.width()
    if stride != row:
        data = b"".join(data[y * stride : y * stride + row] for y in range(img.height()))
    return layer_image(data, img.width(), img.height(), "rgba8")


def read_scaled(path: str, side: int) -> QImage | None:
    """The picture at `path` fitted into side × side (never enlarged); None if unreadable."""
    img = QImage(path)
    if img.isNull():
        return None
    if max(img.width(), img.height()) > side:
        img = img.scaled(side, side, Qt.KeepAspectRatio, Qt.SmoothTransformation)
    return img


def file_image(path: str, side: int = REFERENCE_SIDE) -> P.Image | None:
    img = read_scaled(path, side)
    return None if img is None else image_of(img)


def label(path: str) -> str:
    return os.path.basename(path) or path
