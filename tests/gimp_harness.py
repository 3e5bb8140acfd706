"""Run real GIMP 3 headless in the Debian trixie chroot that tests/setup/gimp_chroot.sh builds.

The chroot shares the host's network, so a plug-in inside reaches an engine started on the
host at tcp://127.0.0.1. Host folders (a GIMP profile, inputs and outputs) are bind-mounted
into the chroot for one run and unmounted afterwards, whatever happens.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CHROOT = "/var/cache/chromahint/gimp-trixie"
GIMP = "gimp-console-3.0"
GIMP_GUI = "gimp-3.0"
GUI_TOOLS = (GIMP_GUI, "Xvfb", "xdotool")  # the GUI tests drive real dialogs and Undo
BATCH_CODE = (
    "import os; path = os.path.join(os.environ['CHROMAHINT_BATCH_OUT'], 'gimp_batch.py'); "
    "exec(compile(open(path).read(), path, 'exec'))"
)
CLEAN_ENV = ("/usr/bin/env", "-i", "PATH=/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8")
BATCH_SCRIPT = Path(__file__).with_name("gimp_batch.py")


def chroot_path() -> Path:
    return Path(os.environ.get("CHROMAHINT_GIMP_CHROOT") or DEFAULT_CHROOT)


def unusable_reason(root: Path) -> str | None:
    """Why GIMP cannot be run from `root`, or None when it can."""
    if not (root / "usr" / "bin" / GIMP).is_file():
        return f"no GIMP 3 chroot at {root} (build it with tests/setup/gimp_chroot.sh)"
    if os.geteuid() != 0:
        return "running GIMP in the chroot needs root (chroot, mount --bind)"
    return None


def gui_unusable_reason(root: Path) -> str | None:
    missing = [t for t in GUI_TOOLS if not (root / "usr" / "bin" / t).is_file()]
    if missing:
        return f"the chroot {root} lacks {', '.join(missing)} (rerun tests/setup/gimp_chroot.sh)"
    return unusable_reason(root)


@dataclass
class GimpRun:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool

    def describe(self) -> str:
        return (
            f"gimp exit {self.returncode}{' (timed out)' if self.timed_out else ''} "
            f"after {self.seconds:.1f} s\n--- stdout\n{self.stdout[-4000:]}\n"
            f"--- stderr\n{self.stderr[-6000:]}"
        )


class GimpChroot:
    def __init__(self, root: Path) -> None:
        self.root = root

    def command(self, argv: list[str], env: dict[str, str]) -> list[str]:
        return ["chroot", str(self.root), *CLEAN_ENV, *(f"{k}={v}" for k, v in env.items()), *argv]

    def _run_inside(self, argv: list[str], env: dict[str, str], timeout: float):
        cmd = self.command(argv, env)
        start = time.monotonic()
        # Own process group: a timeout kills GIMP and every plug-in it started.
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        try:
            out, err = proc.communicate(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            timed_out = True
        return GimpRun(proc.returncode, out, err, time.monotonic() - start, timed_out)

    def version(self) -> str:
        res = self._run_inside([GIMP, "--version"], {}, timeout=60)
        return res.stdout.strip()

    @contextmanager
    def mounted(self, host_dir: Path) -> Iterator[str]:
        """Bind-mount `host_dir` into the chroot; yield its path as seen inside."""
        inside = f"/mnt/chromahint-test-{uuid.uuid4().hex[:12]}"
        target = self.root / inside.lstrip("/")
        target.mkdir(parents=True)
        try:
            subprocess.run(["mount", "--bind", str(host_dir), str(target)], check=True)
            try:
                yield inside
            finally:
                if subprocess.run(["umount", str(target)], check=False).returncode != 0:
                    subprocess.run(["umount", "--lazy", str(target)], check=False)
        finally:
            target.rmdir()

    def batch(
        self, work: Path, code: str, profile: str = "profile", timeout: float = 180.0
    ) -> GimpRun:
        """Run python-fu-eval `code` in headless GIMP with GIMP3_DIRECTORY = work/profile.

        `code` sees the environment variable CHROMAHINT_BATCH_OUT: `work` as seen inside.
        """
        with self.mounted(work) as inside:
            env = {"GIMP3_DIRECTORY": f"{inside}/{profile}", "CHROMAHINT_BATCH_OUT": inside}
            argv = [GIMP, "-i", "--batch-interpreter=python-fu-eval", "-b", code, "--quit"]
            return self._run_inside(argv, env, timeout)

    def run_spec(
        self, work: Path, spec: dict, profile: str = "profile", timeout: float = 180.0
    ) -> tuple[GimpRun, dict | None]:
        """Build and run a gimp_batch.py spec; return the run and its report (None if absent)."""
        write_spec(work, spec)
        return self.batch(work, BATCH_CODE, profile, timeout), read_report(work)

    @contextmanager
    def gui(self, work: Path, spec: dict, profile: str = "profile") -> Iterator[GuiSession]:
        """GIMP with its user interface on a private Xvfb display, running a gimp_batch.py
        spec; the session answers dialogs and presses keys while the spec runs."""
        write_spec(work, spec)
        with self.mounted(work) as inside:
            read_fd, write_fd = os.pipe()
            xvfb = subprocess.Popen(
                self.command(
                    [
                        "Xvfb",
                        "-displayfd",
                        str(write_fd),
                        "-screen",
                        "0",
                        "1280x1024x24",
                        "-nolisten",
                        "tcp",
                    ],
                    {},
                ),
                pass_fds=[write_fd],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            os.close(write_fd)
            gimp = None
            try:
                with os.fdopen(read_fd) as f:
                    display = f":{f.readline().strip()}"
                if display == ":":
                    raise RuntimeError("Xvfb did not start in the chroot")
                env = {
                    "DISPLAY": display,
                    "GIMP3_DIRECTORY": f"{inside}/{profile}",
                    "CHROMAHINT_BATCH_OUT": inside,
                }
                argv = [GIMP_GUI, "--no-splash", "--batch-interpreter=python-fu-eval"]
                argv += ["-b", BATCH_CODE, "--quit"]
                # Files, not pipes: nobody reads while the session runs, and a full pipe
                # would freeze GIMP.
                with (work / "gimp.out").open("w") as out, (work / "gimp.err").open("w") as err:
                    gimp = subprocess.Popen(
                        self.command(argv, env), stdout=out, stderr=err, start_new_session=True
                    )
                yield GuiSession(self, work, display, gimp)
            finally:
                for proc in (gimp, xvfb):
                    if proc is not None and proc.poll() is None:
                        os.killpg(proc.pid, signal.SIGKILL)
                        proc.wait()

    def python_wrapper(self, dest: Path) -> Path:
        """An executable that runs the chroot's Python, for `install --editor-python`."""
        dest.write_text(
            f'#!/bin/sh\nexec chroot {self.root} {" ".join(CLEAN_ENV)} /usr/bin/python3 "$@"\n'
        )
        dest.chmod(0o755)
        return dest


def write_spec(work: Path, spec: dict) -> None:
    (work / "spec.json").write_text(json.dumps(spec))
    shutil.copy(BATCH_SCRIPT, work / "gimp_batch.py")


def read_report(work: Path) -> dict | None:
    path = work / "report.json"
    return json.loads(path.read_text()) if path.is_file() else None


class GuiSession:
    """Drive GIMP's user interface with xdotool (XTEST keys to the focused window)."""

    def __init__(self, chroot: GimpChroot, work: Path, display: str, gimp: subprocess.Popen):
        self.chroot, self.work, self.display, self.gimp = chroot, work, display, gimp
        self.start = time.monotonic()

    def xdotool(self, *args: str) -> str:
        cmd = self.chroot.command(["xdotool", *args], {"DISPLAY": self.display})
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
        return res.stdout

    def windows(self) -> dict[str, str]:
        """Window id -> title. (Titles are read one by one: `search --name` misses GIMP's
        image windows, whose titles are not Latin-1.)"""
        ids = self.xdotool("search", "--name", ".").split()
        return {w: self.xdotool("getwindowname", w).strip() for w in ids}

    def wait_window(self, part: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for wid, title in self.windows().items():
                if part in title:
                    return wid
            self.check_alive()
            time.sleep(0.3)
        raise TimeoutError(f"no window titled like {part!r}; windows: {self.windows()}")

    def wait_title(self, wid: str, part: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            title = self.xdotool("getwindowname", wid).strip()
            if part in title:
                return title
            time.sleep(0.2)
        raise TimeoutError(f"window {wid} never showed {part!r}: {title!r}")

    def press(self, wid: str, keys: str) -> None:
        self.xdotool("windowfocus", "--sync", wid)
        self.xdotool("key", "--clearmodifiers", keys)

    def wait_file(self, name: str, timeout: float = 120.0) -> Path:
        path = self.work / name
        deadline = time.monotonic() + timeout
        while not path.exists():
            self.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"GIMP did not write {name} within {timeout:g} s")
            time.sleep(0.1)
        return path

    def step(self, step_id: str, timeout: float = 120.0) -> dict:
        return json.loads(self.wait_file(f"step-{step_id}.json", timeout).read_text())

    def go(self, marker: str) -> None:
        (self.work / marker).write_text("")

    def check_alive(self) -> None:
        if self.gimp.poll() is not None:
            raise RuntimeError(f"GIMP exited early ({self.gimp.returncode}): {self.finish()}")

    def finish(self, timeout: float = 60.0) -> GimpRun:
        try:
            self.gimp.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(self.gimp.pid, signal.SIGKILL)
            self.gimp.wait()
            timed_out = True
        seconds = time.monotonic() - self.start
        out = (self.work / "gimp.out").read_text(errors="replace")
        err = (self.work / "gimp.err").read_text(errors="replace")
        return GimpRun(self.gimp.returncode, out, err, seconds, timed_out)


def install_plugin(
    profile: Path,
    endpoint: str,
    editor_python: Path,
    state_dir: Path,
    engine_command: str | None = None,
) -> str:
    """`chromahint install --gimp` into `profile`; its manifest goes under `state_dir`."""
    cmd = [sys.executable, "-m", "chromahint", "install", "--gimp", "--gimp-profile", str(profile)]
    cmd += ["--endpoint", endpoint, "--editor-python", str(editor_python)]
    if engine_command:
        cmd += ["--engine-command", engine_command]
    env = dict(os.environ, XDG_DATA_HOME=str(state_dir), XDG_CONFIG_HOME=str(state_dir))
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)
    if res.returncode != 0:
        raise RuntimeError(
            f"chromahint install failed ({res.returncode}):\n{res.stdout}{res.stderr}"
        )
    return res.stdout
