"""Chromahint's installer: `chromahint install`, `chromahint doctor`, `chromahint uninstall`.

It copies the GIMP 3 and Krita 5 plug-ins (shipped inside this package) into the editors'
profiles, enables the Krita plug-in in kritarc, vendors pyzmq/msgpack for editors whose
Python lacks them, and records everything it wrote in a manifest so uninstall can remove
exactly that.
"""

PLUGIN_NAME = "chromahint"
