"""Colorization networks and the registry that loads them from weights/."""
