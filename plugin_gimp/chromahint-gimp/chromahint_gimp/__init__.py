"""The GIMP plug-in's modules (chromahint-gimp.py beside this folder only registers them).

Pure Python, testable outside GIMP (no `gi`): `names` (what users and scripts see),
`errors`, `pixel_formats` (which Babl format to read a layer with), `swatch_palette`,
`region_overlay` (drawing a regions reply) and `engine_job` (one request in a worker thread).
GIMP-side (`gi`): `runner` (dialog, errors as messages), `dialog`, `layers` (layers, pixels,
hints) and `procedures` (the three procedures). Everything that talks to the engine goes
through the shared `chromahint_client` copied next to this folder.
"""
