"""The one exception procedures raise for things the user can fix."""

from __future__ import annotations


class PluginError(Exception):
    """Something the user can fix; str() is the message GIMP shows (never a traceback)."""
