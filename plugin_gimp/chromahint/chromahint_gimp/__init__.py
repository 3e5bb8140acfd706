"""Pure-Python parts of the GIMP plug-in (no Gimp, no numpy), testable outside GIMP."""
