"""Make sure an engine runs, and say what went wrong in words for people: what both
plug-ins do before every request."""

from __future__ import annotations

from collections.abc import Callable
from os.path import expanduser

from . import client as errors
from . import protocol as P
from .client import Client
from .launcher import start_engine
from .settings import Settings


def engine_info(
    settings: Settings,
    progress: Callable[[str], None] | None = None,
    log_path: str | None = None,
) -> P.InfoReply | None:
    """The engine's info, starting the configured command when nothing listens.

    None when an engine is there but busy (serving someone's long request): starting a
    second one on the same endpoint would fail, so only a refused connection starts one.
    An engine that refuses this client's keys raises EngineAuthError (nothing is started).
    """
    with Client(settings.endpoint, timeout=2.0, retries=0, keys=settings.curve) as c:
        try:
            return c.info()
        except errors.EngineTimeout:
            return None
        except errors.EngineNotRunning:
            pass
    if progress:
        progress(f"Starting the Chromahint engine ({settings.engine_command})…")
    roots = [a for f in settings.reference_folders for a in ("--reference-root", expanduser(f))]
    _, info = start_engine(
        settings.engine_command, settings.endpoint, log_path=log_path, keys=settings.curve,
        extra=roots,
    )  # fmt: skip
    return info


def describe(error: Exception, settings: Settings, what: str) -> str:
    """A message for people about a failed request; `what` names the action ("colorize")."""
    if isinstance(error, errors.EngineReplyError):
        if error.unsupported:
            return f"The Chromahint engine cannot {what}: {error.message}"
        text = f"The Chromahint engine reported an error ({error.code}): {error.message}"
        if error.code == P.ErrorCode.FORBIDDEN:
            where = f" in {settings.path}" if settings.path else ""
            text += (
                f". An engine the plug-in starts may read the folders in 'reference_folders'"
                f"{where}: add the folder there and restart the engine."
            )
        return text
    if isinstance(error, errors.EngineAuthError):
        where = f" in {settings.path}" if settings.path else ""
        return (
            f"Chromahint engine refused the connection: {error}. The key files are "
            f"'server_key' and 'client_key'{where}."
        )
    if isinstance(error, errors.EngineNotRunning):
        where = f" (settings: {settings.path})" if settings.path else ""
        return (
            f"Chromahint engine not available: {error}. Check that 'engine_command' "
            f"({settings.engine_command!r}) starts it at {settings.endpoint}{where}, or start "
            "it yourself with 'chromahint serve'."
        )
    if isinstance(error, errors.EngineError):
        return f"Chromahint: {error}"
    return f"Chromahint plug-in error: {type(error).__name__}: {error}"


def reference_note(confidence: float | None) -> str:
    """What the result message says about the reference, if one was used."""
    if confidence is None:
        return ""
    if confidence < P.REFERENCE_FIT_LOW:
        return (
            f" The reference does not fit this picture (match {confidence:.2f}): the colours"
            " are the model's own; try a reference of a similar scene."
        )
    return f" Reference match {confidence:.2f}."
