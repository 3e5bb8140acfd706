"""How every procedure runs: the dialog when interactive, then the work, with every failure
turned into an execution-error message (never a traceback in GIMP's face).

Registration must work even when GIMP's Python lacks pyzmq or msgpack, so the modules that
use the client are imported here, guarded, and the failure is reported when a procedure runs.
"""

from __future__ import annotations

import traceback

# GIMP's gi bindings ship no stubs, so pyright cannot resolve them.
from gi.repository import Gimp, GLib, GObject  # pyright: ignore[reportMissingImports]

from .errors import PluginError

try:
    from . import dialog, procedures
except ImportError as e:  # no pyzmq/msgpack: register anyway and say so when run
    IMPORT_ERROR: str | None = (
        f"Chromahint cannot talk to its engine from GIMP's Python ({e}). "
        "Run 'chromahint install --gimp' so it provides pyzmq and msgpack."
    )
else:
    IMPORT_ERROR = None


def _failure(procedure: Gimp.Procedure, message: str) -> Gimp.ValueArray:
    return procedure.new_return_values(Gimp.PDBStatusType.EXECUTION_ERROR, GLib.Error(message))


def _work(procedure, image, drawables, config, work: str):
    try:
        return getattr(procedures, work)(image, drawables, config), None
    except PluginError as e:
        return None, _failure(procedure, str(e))
    except GLib.Error as e:  # GIMP refused a step
        return None, _failure(procedure, f"Chromahint: GIMP reported an error: {e.message}")
    except Exception as e:  # a bug: the traceback goes to the terminal, words to the user
        traceback.print_exc()
        message = f"Chromahint failed unexpectedly: {type(e).__name__}: {e}"
        return None, _failure(procedure, message)


def make_run(work: str, fields: list[str], summary: str):
    """The run function of a procedure: `procedures.<work>(image, drawables, config)`, after
    a dialog showing `fields` and the `summary` line ("hints" or "source") when interactive."""

    def run(procedure, run_mode, image, drawables, config, _data):
        if IMPORT_ERROR:
            return _failure(procedure, IMPORT_ERROR)
        if run_mode == Gimp.RunMode.INTERACTIVE and not dialog.accepted(
            procedure, image, drawables, config, fields, summary
        ):
            return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, None)
        result, failure = _work(procedure, image, drawables, config, work)
        if failure is not None:
            return failure
        Gimp.displays_flush()
        return Gimp.ValueArray.new_from_values(
            [
                GObject.Value(Gimp.PDBStatusType, Gimp.PDBStatusType.SUCCESS),
                GObject.Value(type(result), result),
            ]
        )

    return run
