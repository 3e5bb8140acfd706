"""`chromahint install | doctor | uninstall` against fake HOMEs.

The core install / reinstall / uninstall / dry-run tests run the real `chromahint` console
script in a subprocess with HOME and XDG_* pointing into a temporary folder that already
holds a user's editor profiles and kritarc; the others run the same subcommands in this
process with that environment, or call chromahint_installer's functions directly. The
plug-in files installed are the real ones shipped in the package.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import stat
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
from conftest import free_endpoint

from chromahint_installer import kritarc, paths, vendor
from chromahint_installer.cli import register
from chromahint_installer.engine_env import Gpu, detect_gpu, torch_index
from chromahint_installer.manifest import KritarcEdit

pytestmark = pytest.mark.engine

PY = sys.executable

# A user's kritarc as Krita leaves it, with the awkward parts: a key with spaces, non-ASCII,
# bytes that are not UTF-8, another plug-in enabled, and no newline at the end.
KRITARC = (
    b"[General]\n"
    b"LastPreset=Basic_tip_default\n"
    b"some key = a value ; not a comment\n"
    b"unicod\xc3\xa9=\xc3\xa7a va\n"
    b"\n"
    b"[python]\n"
    b"enable_other=true\n"
    b"\n"
    b"[MainWindow]\n"
    b"State=@ByteArray(\x00\x00\x00\xff\xfe)\n"
    b"ko=\xff\n"
    b"lastUsedDir=/home/me/pictures"
)


def chromahint_script() -> list[str]:
    """The installed console script next to this Python (pyenv shims need the real HOME)."""
    script = Path(PY).with_name("chromahint")
    return [str(script)] if script.is_file() else [PY, "-m", "chromahint"]


def fake_env(home: Path, **extra: str) -> dict[str, str]:
    fakebin = home.parent / "bin"
    fakebin.mkdir(exist_ok=True)
    # No user manager here, as on CI: `systemctl --user` fails like it does without one.
    (fakebin / "systemctl").write_text("#!/bin/sh\necho 'Failed to connect to bus' >&2\nexit 1\n")
    (fakebin / "systemctl").chmod(0o755)
    keep = ("LANG", "LC_ALL", "PYENV_ROOT", "PYENV_VERSION", "PYTHONPATH", "TMPDIR")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    # pip runs `rustc --version` for its user agent; a rustup proxy would then create
    # ~/.rustup in the fake HOME, so rustup keeps using the real one.
    for var, default in (("RUSTUP_HOME", ".rustup"), ("CARGO_HOME", ".cargo")):
        real = os.environ.get(var) or str(Path.home() / default)
        if Path(real).is_dir():
            env[var] = real
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        PATH=f"{fakebin}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    env.update(extra)
    return env


def run_script(
    env: dict[str, str], *args: str, expect: int | None = 0
) -> subprocess.CompletedProcess:
    res = subprocess.run(
        [*chromahint_script(), *args], env=env, capture_output=True, text=True, timeout=300
    )
    if expect is not None:
        assert res.returncode == expect, f"exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res


@pytest.fixture
def cli(monkeypatch, capsys):
    """The same subcommands in this process, with the environment set to `env` (fast; the
    console script pays for importing the engine on every run)."""

    def call(env: dict[str, str], *args: str, expect: int | None = 0):
        for key in list(os.environ):
            if key not in env:
                monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        parser = argparse.ArgumentParser(prog="chromahint")
        register(parser.add_subparsers(required=True))
        parsed = parser.parse_args(args)
        code = parsed.func(parsed)
        out = capsys.readouterr()
        if expect is not None:
            assert code == expect, f"exit {code}\n{out.out}\n{out.err}"
        return subprocess.CompletedProcess(args, code, out.out, out.err)

    return call


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(root: Path, mtimes: bool = True) -> dict[str, tuple]:
    """Every file and folder under root: content hash, mode and (optionally) mtime."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            st = p.lstat()
            when = st.st_mtime_ns if mtimes else None
            if stat.S_ISDIR(st.st_mode):
                out[str(p.relative_to(root))] = ("dir", stat.S_IMODE(st.st_mode), when)
            else:
                out[str(p.relative_to(root))] = ("file", sha(p), stat.S_IMODE(st.st_mode), when)
    return out


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A user who has started GIMP 3 and Krita once and has another plug-in in each."""
    h = tmp_path / "home"
    gimp = h / ".config" / "GIMP" / "3.0"
    (gimp / "plug-ins" / "other").mkdir(parents=True)
    (gimp / "gimprc").write_text('(theme "Dark")\n')
    (gimp / "plug-ins" / "other" / "other.py").write_text("#!/usr/bin/env python3\n")
    (gimp / "plug-ins" / "other" / "other.py").chmod(0o755)
    pykrita = h / ".local" / "share" / "krita" / "pykrita"
    (pykrita / "other").mkdir(parents=True)
    (pykrita / "other.desktop").write_text("[Desktop Entry]\nX-KDE-Library=other\n")
    (pykrita / "other" / "__init__.py").write_text("")
    (h / ".config" / "kritarc").write_bytes(KRITARC)
    return h


def gimp_dir(home: Path) -> Path:
    return home / ".config" / "GIMP" / "3.0" / "plug-ins" / "chromahint-gimp"


def krita_dir(home: Path) -> Path:
    return home / ".local" / "share" / "krita" / "pykrita"


def shipped(package: str, sub: str) -> dict[str, bytes]:
    """The plug-in files in our package, relative path -> content."""
    root = Path(str(resources.files(package))) / sub
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


INSTALL = ("install", "--gimp", "--krita", "--editor-python", PY)


def test_install_writes_plugins_enables_krita_and_records_manifest(home: Path) -> None:
    env = fake_env(home)
    res = run_script(env, *INSTALL)
    assert "GIMP 3 profile:" in res.stdout and "(default)" in res.stdout

    gimp = gimp_dir(home)
    gimp_src = shipped("chromahint_installer.plugin_gimp", "chromahint-gimp")
    assert gimp_src, "the GIMP plug-in sources are missing from the package"
    for rel, data in gimp_src.items():
        assert (gimp / rel).read_bytes() == data, rel
    main = gimp / "chromahint-gimp.py"
    assert stat.S_IMODE(main.stat().st_mode) == 0o755
    assert stat.S_IMODE((gimp / "chromahint.json").stat().st_mode) == 0o644
    client = shipped("chromahint_client", "")
    for rel, data in client.items():
        if rel.endswith(".py"):
            assert (gimp / "chromahint_client" / rel).read_bytes() == data
            assert (
                krita_dir(home) / "chromahint_krita" / "lib" / "chromahint_client" / rel
            ).read_bytes() == data

    krita_src = shipped("chromahint_installer.plugin_krita", "")
    assert "chromahint_krita.desktop" in krita_src and "chromahint_krita/__init__.py" in krita_src
    for rel, data in krita_src.items():
        if rel == "chromahint_krita.desktop" or rel.startswith("chromahint_krita/"):
            assert (krita_dir(home) / rel).read_bytes() == data, rel

    for settings in (
        gimp / "chromahint.json",
        krita_dir(home) / "chromahint_krita" / "chromahint.json",
    ):
        doc = json.loads(settings.read_text())
        assert doc["endpoint"] == "tcp://127.0.0.1:5557"
        assert doc["engine_command"].endswith("-m chromahint serve")
        assert Path(doc["engine_command"].split(" -m ")[0].strip("'")).is_file()

    rc = (home / ".config" / "kritarc").read_bytes()
    assert rc.replace(
        b"enable_other=true\nenable_chromahint_krita=true\n", b"enable_other=true\n"
    ) == (KRITARC), rc

    manifest = json.loads((home / ".local/share/chromahint/install-manifest.json").read_text())
    written = set(manifest["files"])
    assert str(main) in written and str(krita_dir(home) / "chromahint_krita.desktop") in written
    for p, record in manifest["files"].items():
        assert sha(Path(p)) == record["sha256"]
        assert stat.S_IMODE(Path(p).stat().st_mode) == record["mode"]
    on_disk = {str(p) for p in gimp.rglob("*") if p.is_file()}
    assert on_disk <= written
    assert str(home / ".config" / "kritarc") in manifest["kritarc"]
    other = home / ".config" / "GIMP" / "3.0" / "plug-ins" / "other" / "other.py"
    assert other.read_text() == "#!/usr/bin/env python3\n"


def test_second_install_changes_nothing(home: Path) -> None:
    env = fake_env(home)
    run_script(env, *INSTALL)
    before = snapshot(home)
    res = run_script(env, *INSTALL)
    assert snapshot(home) == before
    assert "already installed; everything unchanged" in res.stdout
    assert " create " not in res.stdout and " update " not in res.stdout


def test_uninstall_restores_the_tree_exactly(home: Path) -> None:
    env = fake_env(home)
    before = snapshot(home, mtimes=False)
    run_script(env, *INSTALL)
    # The editors compile our modules when they load them; that bytecode goes too.
    subprocess.run([PY, "-c", "import chromahint_client"], cwd=gimp_dir(home), check=True, env=env)
    assert (gimp_dir(home) / "chromahint_client" / "__pycache__").is_dir()
    res = run_script(env, "uninstall")
    assert snapshot(home, mtimes=False) == before, res.stdout
    assert (home / ".config" / "kritarc").read_bytes() == KRITARC


def test_uninstall_restores_a_previous_kritarc_value(cli, home: Path) -> None:
    original = KRITARC.replace(
        b"enable_other=true\n", b"enable_other=true\nenable_chromahint_krita=false\n"
    )
    (home / ".config" / "kritarc").write_bytes(original)
    env = fake_env(home)
    cli(env, *INSTALL)
    assert b"enable_chromahint_krita=true\n" in (home / ".config" / "kritarc").read_bytes()
    cli(env, "uninstall")
    assert (home / ".config" / "kritarc").read_bytes() == original


def test_uninstall_after_krita_rewrote_kritarc_removes_only_our_line(cli, home: Path) -> None:
    env = fake_env(home)
    cli(env, *INSTALL)
    rc = home / ".config" / "kritarc"
    rewritten = rc.read_bytes().replace(b"[MainWindow]\n", b"[MainWindow]\nnewKey=1\n")
    rc.write_bytes(rewritten)
    cli(env, "uninstall")
    assert rc.read_bytes() == KRITARC.replace(b"[MainWindow]\n", b"[MainWindow]\nnewKey=1\n")


def test_dry_run_writes_nothing_and_lists_every_file(cli, home: Path) -> None:
    env = fake_env(home)
    before = snapshot(home)
    res = run_script(env, *INSTALL, "--dry-run")
    assert snapshot(home) == before
    listed = {line.split()[2] for line in res.stdout.splitlines() if line.startswith("  would ")}
    cli(env, *INSTALL)
    manifest = json.loads((home / ".local/share/chromahint/install-manifest.json").read_text())
    assert set(manifest["files"]) <= listed
    assert str(home / ".config" / "kritarc") in listed


def test_foreign_file_at_a_target_stops_install_unless_forced(cli, home: Path) -> None:
    env = fake_env(home)
    target = gimp_dir(home) / "chromahint-gimp.py"
    target.parent.mkdir(parents=True)
    target.write_text("# my own script that happens to have this name\n")
    before = snapshot(home)
    res = cli(env, *INSTALL, expect=2)
    assert str(target) in res.stdout and "--force" in res.stdout
    assert snapshot(home) == before  # nothing written, not even the manifest

    cli(env, *INSTALL, "--force")
    assert (
        target.read_bytes()
        == shipped("chromahint_installer.plugin_gimp", "chromahint-gimp")["chromahint-gimp.py"]
    )
    cli(env, "uninstall")
    assert target.read_text() == "# my own script that happens to have this name\n"


def test_user_changes_are_kept_by_uninstall_and_block_reinstall(cli, home: Path) -> None:
    env = fake_env(home)
    cli(env, *INSTALL)
    settings = gimp_dir(home) / "chromahint.json"
    settings.write_text('{"endpoint": "tcp://10.0.0.2:5557"}\n')
    res = cli(env, *INSTALL, expect=2)
    assert "was changed since chromahint installed it" in res.stdout
    res = cli(env, "uninstall")
    assert "changed since install; it is yours now" in res.stdout
    assert settings.read_text() == '{"endpoint": "tcp://10.0.0.2:5557"}\n'
    assert not (gimp_dir(home) / "chromahint-gimp.py").exists()
    assert not (home / ".local/share/chromahint").exists()


def test_overrides_missing_editors_and_gimp3_directory(cli, tmp_path: Path) -> None:
    h = tmp_path / "home"
    h.mkdir()
    env = fake_env(h)
    res = cli(env, "install", "--gimp", expect=1)
    assert "GIMP 3 profile not found" in res.stdout and "--gimp-profile" in res.stdout
    assert not any(h.iterdir())

    env = fake_env(h, GIMP3_DIRECTORY=str(tmp_path / "g3"))
    cli(env, "install", "--gimp", "--no-vendor")
    assert (tmp_path / "g3" / "plug-ins" / "chromahint-gimp" / "chromahint-gimp.py").is_file()

    rc, res_dir = tmp_path / "etc" / "kritarc", tmp_path / "kr"
    cli(
        env,
        "install",
        "--krita",
        "--krita-resources",
        str(res_dir),
        "--kritarc",
        str(rc),
        "--no-vendor",
        "--endpoint",
        "tcp://127.0.0.1:6000",
        "--engine-command",
        "eng serve",
    )
    assert rc.read_bytes() == b"[python]\nenable_chromahint_krita=true\n"
    doc = json.loads((res_dir / "pykrita" / "chromahint_krita" / "chromahint.json").read_text())
    assert doc == {"endpoint": "tcp://127.0.0.1:6000", "engine_command": "eng serve"}
    cli(env, "uninstall")
    assert not rc.exists() and not rc.parent.exists() and not res_dir.exists()
    assert not (tmp_path / "g3").exists() and not any(h.iterdir())


def test_service_unit_is_written_and_removed(cli, home: Path) -> None:
    env = fake_env(home)
    res = cli(env, "install", "--gimp", "--no-vendor", "--service")
    unit = home / ".config" / "systemd" / "user" / "chromahint.service"
    text = unit.read_text()
    assert "ExecStart=" in text and "--endpoint tcp://127.0.0.1:5557" in text
    assert "WantedBy=default.target" in text
    assert "systemctl --user daemon-reload && systemctl --user enable chromahint.service" in (
        res.stdout
    )
    cli(env, "uninstall")
    assert not (home / ".config" / "systemd").exists()


def test_doctor_reports_plugins_and_fails_on_problems(cli, home: Path) -> None:
    env = fake_env(home)
    cli(env, *INSTALL)
    res = cli(env, "doctor", "--gimp", "--krita", "--editor-python", PY)
    out = res.stdout
    assert "[ OK ] GIMP plug-in installed and enabled" in out
    assert "[ OK ] Krita plug-in enabled in" in out
    assert "[ OK ] GIMP's Python" in out and "imports zmq" in out
    assert "[FAIL]" not in out

    (gimp_dir(home) / "chromahint-gimp.py").chmod(0o644)
    rc = home / ".config" / "kritarc"
    rc.write_bytes(
        rc.read_bytes().replace(b"enable_chromahint_krita=true", b"enable_chromahint_krita=false")
    )
    res = cli(env, "doctor", "--gimp", "--krita", "--editor-python", PY, expect=1)
    assert "not executable" in res.stdout and "fix: chmod +x" in res.stdout
    assert "[FAIL] Krita plug-in not enabled" in res.stdout
    assert "2 problem(s) found" in res.stdout


def test_doctor_checks_weights_and_engine(cli, tmp_path: Path, engine) -> None:
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "extra.safetensors").write_bytes(b"not really weights")
    env = fake_env(tmp_path / "home", CHROMAHINT_WEIGHTS=str(weights))
    res = cli(env, "doctor", "--engine", "--endpoint", engine.endpoint, expect=1)
    out = res.stdout
    assert "[ OK ] engine importable: chromahint" in out and "device" in out
    assert f"sha256 {hashlib.sha256(b'not really weights').hexdigest()}" in out
    assert "[FAIL] photo model weights missing" in out and "Levin baseline" in out
    assert "fix: " in out and "CHROMAHINT_WEIGHTS" in out
    assert f"[ OK ] engine answers at {engine.endpoint}" in out

    res = cli(env, "doctor", "--engine", "--endpoint", free_endpoint(), expect=None)
    assert "no engine answers at" in res.stdout and "on demand" in res.stdout


def test_engine_check_says_which_torch_build_and_why(cli, tmp_path: Path) -> None:
    gpu = detect_gpu()
    (tmp_path / "home").mkdir()
    # No component named: engine, GIMP and Krita, skipping the editors that are not set up.
    res = cli(fake_env(tmp_path / "home"), "install", "--dry-run", expect=None)
    wanted = "CUDA" if gpu.present else "CPU"
    assert f"torch build for this machine: {wanted} ({gpu.why})" in res.stdout
    assert "GIMP: skipped: GIMP 3 profile not found" in res.stdout
    assert "Krita: skipped: Krita resources folder not found" in res.stdout
    assert not any((tmp_path / "home").iterdir())
    assert torch_index(Gpu(False, "")) == "https://download.pytorch.org/whl/cpu"
    assert torch_index(Gpu(True, "", (12, 4))).endswith("/cu124")
    assert torch_index(Gpu(True, "", (12, 5))).endswith("/cu124")
    assert torch_index(Gpu(True, "", (13, 0))).endswith("/cu128")


NVIDIA_SMI = """\
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 550.54.15              Driver Version: 550.54.15      CUDA Version: 12.4     |
|-----------------------------------------+------------------------+----------------------+
| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |
|=========================================+========================+======================|
|   0  NVIDIA H100 80GB HBM3          On  |   00000000:19:00.0 Off |                    0 |
+-----------------------------------------+------------------------+----------------------+
"""


def test_gpu_detection_picks_the_torch_build(tmp_path: Path, monkeypatch) -> None:
    bin_dir, proc = tmp_path / "bin", tmp_path / "nvidia-version"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    none = detect_gpu(proc)
    assert not none.present and "no NVIDIA GPU" in none.why
    assert torch_index(none).endswith("/cpu")

    proc.write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15\n")
    assert detect_gpu(proc).present and "driver is loaded" in detect_gpu(proc).why

    smi = bin_dir / "nvidia-smi"
    smi.write_text(f"#!{PY}\nprint({NVIDIA_SMI!r})\n")
    smi.chmod(0o755)
    gpu = detect_gpu(tmp_path / "absent")
    assert gpu == Gpu(True, "nvidia-smi works and reports NVIDIA H100 80GB HBM3", (12, 4))
    assert torch_index(gpu).endswith("/cu124")


# -- fine-grained: kritarc edits -----------------------------------------------------------
@pytest.mark.parametrize(
    "original",
    [
        b"",
        b"[General]\nx=1",
        b"[General]\r\nx=1\r\n\r\n[python]\r\nenable_a=true\r\n",
        b"[python]\nenable_chromahint=false\n[Other]\ny=2\n",
        b"[python]\n\n\n[Other]\ny=2\n",
        b"; comment\n[python]\nenable_x=true",
    ],
)
def test_kritarc_enable_and_revert_roundtrip(original: bytes) -> None:
    new, edit = kritarc.enable(original, "python", "enable_chromahint", created_file=not original)
    assert kritarc.get(kritarc.decode(new), "python", "enable_chromahint") == "true"
    for line in original.splitlines():
        if not line.startswith(b"enable_chromahint"):
            assert line in new.splitlines()
    assert kritarc.revert(new, edit) == original
    # Without the exact record (the file changed since), the line-wise undo restores it too,
    # except for the newline it had to add to a last line that had none.
    linewise = kritarc.revert(new, KritarcEdit(**{**edit.__dict__, "splice": None}))
    assert linewise == original or (not original.endswith(b"\n") and linewise == original + b"\n")


def test_kritarc_new_group_is_dropped_only_if_still_empty() -> None:
    new, edit = kritarc.enable(b"[General]\nx=1\n", "python", "enable_chromahint", False)
    assert new == b"[General]\nx=1\n\n[python]\nenable_chromahint=true\n"
    later = new + b"enable_other=true\n"
    assert kritarc.revert(later, edit) == b"[General]\nx=1\n\n[python]\nenable_other=true\n"


# -- fine-grained: locations -------------------------------------------------------------
def test_locations_per_os() -> None:
    env = {"HOME": "/h", "APPDATA": r"C:\U\AppData\Roaming", "LOCALAPPDATA": r"C:\U\AppData\Local"}
    win = paths.gimp_profile_candidates(env, "windows")
    assert [str(c.path) for c in win] == [str(Path(env["APPDATA"]) / "GIMP" / "3.0")]
    krita_win = paths.krita_resource_candidates(env, "windows")[0]
    assert krita_win.path == Path(env["APPDATA"]) / "krita"
    assert paths.kritarc_for(krita_win, env, "windows") == Path(env["LOCALAPPDATA"]) / "kritarc"

    mac = paths.krita_resource_candidates(env, "darwin")[0]
    assert mac.path == Path("/h/Library/Application Support/krita")
    assert paths.kritarc_for(mac, env, "darwin") == Path("/h/Library/Preferences/kritarc")
    assert paths.gimp_profile_candidates(env, "darwin")[0].path == Path(
        "/h/Library/Application Support/GIMP/3.0"
    )

    linux = {"HOME": "/h", "XDG_CONFIG_HOME": "/c", "XDG_DATA_HOME": "/d", "GIMP3_DIRECTORY": "/g"}
    gimp = paths.gimp_profile_candidates(linux, "linux")
    assert [str(c.path) for c in gimp] == [
        "/g",
        "/c/GIMP/3.0",
        "/h/.var/app/org.gimp.GIMP/config/GIMP/3.0",
    ]
    native, flatpak = paths.krita_resource_candidates(linux, "linux")
    assert native.path == Path("/d/krita") and flatpak.flatpak
    assert paths.kritarc_for(native, linux, "linux") == Path("/c/kritarc")
    assert paths.kritarc_for(flatpak, linux, "linux") == Path(
        "/h/.var/app/org.kde.krita/config/kritarc"
    )
    assert paths.manifest_path(linux, "linux") == Path("/d/chromahint/install-manifest.json")
    assert paths.pick(gimp, None, "--gimp-profile").how == "GIMP3_DIRECTORY"


def test_flatpak_profile_is_detected_and_engine_started_on_the_host(cli, tmp_path: Path) -> None:
    h = tmp_path / "home"
    (h / ".var/app/org.gimp.GIMP/config/GIMP/3.0").mkdir(parents=True)
    cli(fake_env(h), "install", "--gimp", "--no-vendor")
    settings = h / ".var/app/org.gimp.GIMP/config/GIMP/3.0/plug-ins/chromahint-gimp/chromahint.json"
    assert json.loads(settings.read_text())["engine_command"].startswith("flatpak-spawn --host ")


# -- vendoring ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def python_without_zmq(tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("venv") / "nozmq"
    subprocess.run([PY, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    assert subprocess.run([python, "-c", "import zmq"], capture_output=True).returncode != 0
    return python


def test_vendoring_decision_for_python_with_and_without_zmq(python_without_zmq: Path) -> None:
    lacking = vendor.probe((str(python_without_zmq),))
    assert lacking.missing == ["zmq", "msgpack"]
    assert lacking.version == f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert lacking.abi == f"cp{sys.version_info[0]}{sys.version_info[1]}"
    cmd = vendor.pip_command(lacking, Path("/tmp/x"))
    assert cmd[cmd.index("--abi") + 1] == lacking.abi
    assert cmd[cmd.index("--python-version") + 1] == lacking.version
    if sys.platform.startswith("linux"):
        assert any(p.startswith(("manylinux", "musllinux")) for p in lacking.platforms)
    assert {"pyzmq", "msgpack", "--only-binary=:all:"} <= set(cmd)

    having = vendor.probe((PY,))
    assert having.missing == []


def pypi_reachable() -> bool:
    """Whether pip's configured index answers (the vendoring download needs it)."""
    try:
        probe = subprocess.run(
            [sys.executable, "-m", "pip", "index", "versions", "msgpack"],
            capture_output=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        return False
    return probe.returncode == 0


def test_vendored_wheels_import_in_a_python_without_them(
    cli, home: Path, python_without_zmq: Path
) -> None:
    if not pypi_reachable():
        pytest.skip("PyPI is not reachable; the vendoring download needs it")
    env = fake_env(home)
    before = snapshot(home, mtimes=False)
    res = cli(env, "install", "--gimp", "--editor-python", str(python_without_zmq))
    assert "cannot import zmq or msgpack" in res.stdout and "downloading" in res.stdout
    plugin = gimp_dir(home)
    probe = (
        "import sys; sys.path[0:0] = [sys.argv[1], sys.argv[1] + '/vendor']; "
        "import zmq, msgpack, chromahint_client; print(zmq.__file__)"
    )
    out = subprocess.run(
        [python_without_zmq, "-c", probe, str(plugin)], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith(str(plugin / "vendor"))

    again = cli(env, "install", "--gimp", "--editor-python", str(python_without_zmq))
    assert "downloading" not in again.stdout and "everything unchanged" in again.stdout
    doctor = cli(env, "doctor", "--gimp", "--editor-python", str(python_without_zmq), expect=None)
    assert "(vendor/)" in doctor.stdout
    cli(env, "uninstall")
    assert snapshot(home, mtimes=False) == before


def test_package_ships_the_plugins() -> None:
    # pyproject maps plugin_gimp/ and plugin_krita/ into chromahint_installer as package data.
    gimp = (
        resources.files("chromahint_installer.plugin_gimp")
        / "chromahint-gimp"
        / "chromahint-gimp.py"
    )
    krita = resources.files("chromahint_installer.plugin_krita") / "chromahint_krita.desktop"
    assert gimp.is_file() and krita.is_file()


def test_install_over_a_0_1_release_removes_the_old_plugin_names(home: Path, cli) -> None:
    """0.1 installed plug-ins/chromahint/ and pykrita/chromahint/: both must go, or GIMP and
    Krita would load the old plug-in beside the new one."""
    from chromahint_installer.manifest import FileRecord, Manifest

    env = fake_env(home)
    cli(env, *INSTALL, "--no-vendor")
    old_gimp = home / ".config" / "GIMP" / "3.0" / "plug-ins" / "chromahint" / "chromahint.py"
    old_krita = krita_dir(home) / "chromahint" / "__init__.py"
    old_desktop = krita_dir(home) / "chromahint.desktop"
    manifest = Manifest.load(home / ".local" / "share" / "chromahint" / "install-manifest.json")
    for path, component in ((old_gimp, "gimp"), (old_krita, "krita"), (old_desktop, "krita")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("# chromahint 0.1\n")
        manifest.files[str(path)] = FileRecord(sha(path), 0o644, component)
    manifest.save()
    others = {p: p.read_bytes() for p in (krita_dir(home) / "other.desktop",)}

    cli(env, *INSTALL, "--no-vendor")
    assert not old_gimp.exists() and not old_krita.exists() and not old_desktop.exists()
    assert (gimp_dir(home) / "chromahint-gimp.py").is_file()
    assert (krita_dir(home) / "chromahint_krita" / "__init__.py").is_file()
    assert all(p.read_bytes() == data for p, data in others.items())
    paths = Manifest.load(manifest.path).files
    assert str(old_gimp) not in paths and str(old_desktop) not in paths


def test_install_writes_the_curve_key_files_into_the_plugin_settings(cli, home: Path) -> None:
    """--server-key/--client-key land in both plug-ins' chromahint.json as absolute paths,
    which the shared settings loader turns into the client's CURVE keys; a half-given or
    wrong pair is refused before anything is written."""
    from chromahint.security import create_client_keys, create_server_keys
    from chromahint_client.curve import read_certificate
    from chromahint_client.settings import load

    keys = home / "keys"
    server_public, _ = create_server_keys(keys)
    _, client_pair, _ = create_client_keys(keys, "studio")
    env = fake_env(home)

    before = snapshot(home)
    res = cli(env, *INSTALL, "--no-vendor", "--server-key", str(server_public), expect=1)
    assert "go together" in res.stdout and "Nothing was written" in res.stdout
    res = cli(
        env,
        *INSTALL,
        "--no-vendor",
        "--server-key",
        str(keys / "server.key_secret"),  # the engine's secret: never a client's file
        "--client-key",
        str(client_pair),
        expect=1,
    )
    assert "secret key" in res.stdout
    assert snapshot(home) == before

    cli(
        env,
        *INSTALL,
        "--no-vendor",
        "--endpoint",
        "tcp://127.0.0.2:5557",
        "--server-key",
        str(server_public),
        "--client-key",
        str(client_pair),
    )
    for folder in (gimp_dir(home), krita_dir(home) / "chromahint_krita"):
        doc = json.loads((folder / "chromahint.json").read_text())
        assert doc["server_key"] == str(server_public) and doc["client_key"] == str(client_pair)
        settings = load(str(folder))
        assert settings.curve is not None
        assert settings.curve.server_public == read_certificate(server_public)[0]
        assert settings.endpoint == "tcp://127.0.0.2:5557"
