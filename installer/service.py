"""A systemd --user unit so the engine runs at login (Linux, `install --service`)."""

from __future__ import annotations

import shlex
import shutil
import subprocess

UNIT_NAME = "chromahint.service"


def unit_text(engine_command: str, endpoint: str) -> bytes:
    exec_start = shlex.join([*shlex.split(engine_command), "--endpoint", endpoint])
    return (
        "# Written by `chromahint install --service`; `chromahint uninstall` removes it.\n"
        "[Unit]\n"
        "Description=Chromahint colorization engine\n"
        "\n"
        "[Service]\n"
        f"ExecStart={exec_start}\n"
        "Restart=on-failure\n"
        "\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    ).encode()


def systemctl_works() -> bool:
    """True when a user manager answers (not in containers, CI or ssh without lingering)."""
    systemctl = shutil.which("systemctl")
    if systemctl is None:
        return False
    try:
        res = subprocess.run(
            [systemctl, "--user", "show-environment"], capture_output=True, timeout=15, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return res.returncode == 0


def systemctl(*args: str) -> tuple[bool, str]:
    cmd = ["systemctl", "--user", *args]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, str(e)
    return res.returncode == 0, (res.stderr or res.stdout).strip()


def command_text(*args: str) -> str:
    return shlex.join(["systemctl", "--user", *args])
