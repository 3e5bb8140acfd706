"""The numbered-regions overlay for line art, painted with Qt (no Krita API here).

Each shown region gets its tint from the shared palette (chromahint_client.regions, the
same numbers and colours as GIMP's overlay) and a numbered badge where the shared anchor
algorithm placed it.
"""

from __future__ import annotations

from PyQt5.QtCore import QPointF, QRectF, Qt
from PyQt5.QtGui import QColor, QFont, QImage, QPainter, QPen

from chromahint_client.regions import RegionMap, color_for

from .pixels import Rect

OVERLAY_ALPHA = 90  # region tints on the overlay: the sketch stays readable under them


def overlay_rgba8(region_map: RegionMap, rect: Rect) -> bytes:
    """The numbered-regions overlay as rgba8 for `rect`: tints plus numbered badges."""
    gw, gh = region_map.width, region_map.height
    stride = (gw + 3) // 4 * 4  # QImage wants scan lines on 32-bit boundaries
    ranks = region_map.ranks
    if stride != gw:
        ranks = b"".join(ranks[y * gw : (y + 1) * gw].ljust(stride, b"\0") for y in range(gh))
    tiles = QImage(ranks, gw, gh, stride, QImage.Format_Indexed8)
    table = [0] * 256
    for rank in range(1, 256):
        r, g, b = color_for(rank)
        table[rank] = (OVERLAY_ALPHA << 24) | (r << 16) | (g << 8) | b
    tiles.setColorTable(table)
    image = tiles.convertToFormat(QImage.Format_ARGB32)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.Antialiasing)
    radius = max(9.0, min(rect.w, rect.h) / 40.0)
    font = QFont()
    font.setBold(True)
    font.setPixelSize(int(radius * 1.2))
    painter.setFont(font)
    for region in region_map.regions:
        r, g, b = color_for(region.rank)
        centre = QPointF(region.x, region.y)
        painter.setPen(QPen(QColor(255, 255, 255), max(1.5, radius / 6)))
        painter.setBrush(QColor(r, g, b))
        painter.drawEllipse(centre, radius, radius)
        painter.setPen(QColor(255, 255, 255))
        box = QRectF(centre.x() - radius, centre.y() - radius, 2 * radius, 2 * radius)
        painter.drawText(box, Qt.AlignCenter, str(region.rank))
    painter.end()
    image = image.convertToFormat(QImage.Format_RGBA8888)  # R, G, B, A bytes on any machine
    return image.constBits().asstring(image.sizeInBytes())  # 4 * width bytes a line: no padding
