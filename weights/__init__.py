"""Trained weights shipped with the engine (see README.md in this folder, the model card)."""
