"""Chromahint engine: a resident colorization server over ZeroMQ."""

__version__ = "0.1.0"
