"""Chromahint's installer: `chromahint install`, `chromahint doctor`, `chromahint uninstall`.

It copies the GIMP 3 and Krita 5 plug-ins (shipped inside this package) into the editors'
profiles, enables the Krita plug-in in kritarc, vendors pyzmq/msgpack for editors whose
Python lacks them, and records everything it wrote in a manifest so uninstall can remove
exactly that.
"""

# GIMP 3 runs plug-ins/<name>/<name>.py; a hyphen keeps the entry file from ever being
# imported as a module (it would shadow a package). Krita imports pykrita/<name> as a
# package named by the .desktop file's X-KDE-Library.
GIMP_PLUGIN = "chromahint-gimp"
KRITA_PLUGIN = "chromahint_krita"
# What releases up to 0.1 installed as: an install over one of those removes these files
# (those its manifest lists), so the old and the new plug-in never both load.
LEGACY_PLUGIN = "chromahint"
