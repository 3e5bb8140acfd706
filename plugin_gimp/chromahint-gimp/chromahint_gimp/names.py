"""The names users and scripts see: procedures, menu, layers, palette.

Registration needs them even when GIMP's Python lacks pyzmq or msgpack, so this module
imports nothing from `chromahint_client`.
"""

from __future__ import annotations

COLORIZE = "chromahint-colorize"
SUGGEST = "chromahint-suggest-colors"
REGIONS = "chromahint-guide-regions"
REFERENCE = "chromahint-colorize-from-reference"
MENU = "<Image>/Filters/Colors/Chromahint"

HINT_LAYER_NAME = "Hints"
RESULT_LAYER_NAME = "Colorized"
REGIONS_LAYER_NAME = "Chromahint regions"
PALETTE_NAME = "Chromahint"

# The most regions an overlay numbers: chromahint_client.regions.MAX_SHOWN (two digits),
# repeated here for registration (a test keeps the two equal).
MAX_REGIONS = 99
