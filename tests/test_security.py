"""CURVE authentication (docs/security.md): real engine processes, real sockets, real keys.

Every byte goes to 127.0.0.0/8 or an ipc:// socket. The refused non-loopback binds
(0.0.0.0, *) are refused before the engine binds anything, so no traffic goes anywhere.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import zmq

from chromahint.security import (
    allow_public_key,
    create_client_keys,
    create_server_keys,
    revoke,
)
from chromahint.serving import InsecureEndpoint, check_endpoints
from chromahint_client import (
    Client,
    CurveKeys,
    EngineAuthError,
    EngineError,
    EngineNotRunning,
    EngineTimeout,
)
from chromahint_client import protocol as P
from chromahint_client.curve import is_local_endpoint
from chromahint_client.launcher import is_running
from chromahint_client.session import engine_info
from chromahint_client.settings import Settings, SettingsError, load

pytestmark = pytest.mark.engine

HOST = "127.0.0.2"  # loopback, but not the default address: CURVE is forced with --curve
REFUSED_WITHIN = 2.0  # seconds; a refused client must not wait out its timeout


def free_port(host: str = HOST) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def chromahint(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "chromahint", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def config_env(config: Path) -> dict[str, str]:
    return {**os.environ, "XDG_CONFIG_HOME": str(config)}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@dataclass
class CurveEngine:
    tcp: str
    ipc: str
    keys_dir: Path
    alice: CurveKeys  # allowed
    server_key: Path
    alice_pair: Path
    proc: subprocess.Popen
    env: dict[str, str]


@pytest.fixture(scope="module")
def curve_engine(tmp_path_factory) -> Iterator[CurveEngine]:
    """One engine forced to CURVE on a loopback TCP endpoint and an ipc:// one, with its
    keys in $XDG_CONFIG_HOME/chromahint/keys and one allowed client, alice."""
    tmp = tmp_path_factory.mktemp("curve")
    env = config_env(tmp / "config")
    keys_dir = tmp / "config" / "chromahint" / "keys"
    server_public, _ = create_server_keys(keys_dir)
    _, alice_pair, _ = create_client_keys(keys_dir, "alice")
    alice = CurveKeys.from_files(server_public, alice_pair)
    tcp, ipc = f"tcp://{HOST}:{free_port()}", f"ipc://{tmp / 'engine.sock'}"
    log = tmp / "engine.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "chromahint", "serve", "--curve"]
        + ["--endpoint", tcp, "--endpoint", ipc],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 120
        while is_running(tcp, alice) is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the CURVE engine did not start: {log.read_text()}")
        yield CurveEngine(tcp, ipc, keys_dir, alice, server_public, alice_pair, proc, env)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def assert_refused(endpoint: str, keys: CurveKeys | None, why: str) -> None:
    start = time.monotonic()
    with Client(endpoint, timeout=10.0, retries=1, keys=keys) as c:
        with pytest.raises(EngineAuthError, match=why) as caught:
            c.info()
    assert time.monotonic() - start < REFUSED_WITHIN
    assert isinstance(caught.value, EngineError)
    assert not isinstance(caught.value, EngineNotRunning | EngineTimeout)


def no_reply_on_a_plain_socket(endpoint: str, keys: CurveKeys | None) -> bool:
    """A bare REQ socket (no monitor, no Lazy Pirate): the request gets no reply at all."""
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        if keys is not None:
            sock.curve_serverkey = keys.server_public
            sock.curve_publickey = keys.public
            sock.curve_secretkey = keys.secret
        sock.connect(endpoint)
        sock.send(b"\x82\xa1v\x01\xa2op\xa4info")  # {"v": 1, "op": "info"}
        return not sock.poll(1000, zmq.POLLIN)
    finally:
        sock.close(0)


# -- which endpoints need keys ----------------------------------------------------------------
@pytest.mark.unit
@pytest.mark.parametrize(
    ("endpoint", "local"),
    [
        ("tcp://127.0.0.1:5557", True),
        ("tcp://127.0.0.2:5557", True),
        ("tcp://127.255.255.254:1", True),
        ("tcp://localhost:5557", True),
        ("tcp://[::1]:5557", True),
        ("tcp://[::ffff:127.0.0.1]:5557", True),
        ("ipc:///tmp/chromahint.sock", True),
        ("inproc://engine", True),
        ("tcp://0.0.0.0:5557", False),
        ("tcp://*:5557", False),
        ("tcp://[::]:5557", False),
        ("tcp://192.168.1.10:5557", False),
        ("tcp://eth0:5557", False),
        ("tcp://lo:5557", False),  # interface names are not resolved: counted as remote
        ("tcp://example.org:5557", False),
        ("tcp://128.0.0.1:5557", False),
        ("ws://0.0.0.0:5557", False),
        ("pgm://eth0;239.192.1.1:5555", False),
        ("127.0.0.1:5557", False),
    ],
)
def test_only_loopback_and_ipc_endpoints_count_as_local(endpoint: str, local: bool) -> None:
    assert is_local_endpoint(endpoint) is local


@pytest.mark.unit
def test_serve_refuses_a_non_loopback_endpoint_without_keys() -> None:
    check_endpoints(["tcp://127.0.0.1:5557", "ipc:///tmp/x.sock"], None)
    with pytest.raises(InsecureEndpoint, match="chromahint keys server"):
        check_endpoints(["tcp://127.0.0.1:5557", "tcp://0.0.0.0:5557"], None)


@pytest.mark.parametrize(
    "args",
    [
        ["--endpoint", "tcp://0.0.0.0:{port}"],
        ["--endpoint", "tcp://127.0.0.1:{port}", "--endpoint", "tcp://*:{port}"],
        ["--curve", "--endpoint", "tcp://127.0.0.2:{port}"],
    ],
    ids=["any-address", "loopback-plus-wildcard", "curve-flag"],
)
def test_serving_beyond_loopback_without_keys_exits_with_how_to_make_them(
    tmp_path: Path, args: list[str]
) -> None:
    port = free_port("127.0.0.1")
    args = [a.format(port=port) for a in args]
    res = chromahint("serve", *args, env=config_env(tmp_path / "config"))
    assert res.returncode == 2, res.stderr
    assert "chromahint keys server" in res.stderr
    assert "chromahint keys client NAME" in res.stderr
    assert str(tmp_path / "config" / "chromahint" / "keys") in res.stderr
    if "--curve" not in args:
        assert "other machines can reach" in res.stderr
    assert "listening" not in res.stderr  # refused before anything was bound


# -- making keys --------------------------------------------------------------------------------
def test_keys_commands_write_0600_secrets_in_the_config_dir_and_say_who_gets_what(
    tmp_path: Path,
) -> None:
    env = config_env(tmp_path / "config")
    keys = tmp_path / "config" / "chromahint" / "keys"
    res = chromahint("keys", "server", env=env)
    assert res.returncode == 0, res.stderr
    assert f"{keys / 'server.key_secret'}" in res.stdout and "give this public key" in res.stdout
    res = chromahint("keys", "client", "alice", env=env)
    assert res.returncode == 0, res.stderr
    assert f"{keys / 'server.key'}  -> its 'server_key'" in res.stdout
    assert f"{keys / 'clients' / 'alice.key_secret'}  -> its 'client_key'" in res.stdout

    assert mode(keys / "server.key_secret") == 0o600
    assert mode(keys / "clients" / "alice.key_secret") == 0o600
    assert mode(keys / "server.key") == 0o644
    assert mode(keys) == 0o700
    allowed = keys / "allow" / "alice.key"
    assert allowed.read_bytes() == (keys / "clients" / "alice.key").read_bytes()
    assert "secret-key" not in allowed.read_text()
    assert "secret-key" not in (keys / "server.key").read_text()
    assert not [p for p in keys.rglob("*") if p.name.startswith(".new-")]

    listing = chromahint("keys", "list", env=env)
    assert listing.returncode == 0 and "alice.key_secret (mode 0600): allowed" in listing.stdout

    again = chromahint("keys", "server", env=env)
    assert again.returncode == 1 and "--force" in again.stderr
    bad = chromahint("keys", "client", "../evil", env=env)
    assert bad.returncode == 1 and not (tmp_path / "config" / "chromahint" / "evil.key").exists()
    secret = chromahint("keys", "allow", str(keys / "clients" / "alice.key_secret"), "x", env=env)
    assert secret.returncode == 1 and "public keys only" in secret.stderr


def test_serve_refuses_a_secret_key_that_others_can_read(tmp_path: Path) -> None:
    keys = tmp_path / "config" / "chromahint" / "keys"
    _, secret = create_server_keys(keys)
    secret.chmod(0o644)
    res = chromahint(
        "serve",
        "--curve",
        "--endpoint",
        f"tcp://{HOST}:{free_port()}",
        env=config_env(tmp_path / "config"),
    )
    assert res.returncode == 2 and "chmod 600" in res.stderr


# -- a CURVE engine -----------------------------------------------------------------------------
def test_an_allowed_client_gets_info(curve_engine: CurveEngine) -> None:
    for endpoint in (curve_engine.tcp, curve_engine.ipc):
        with Client(endpoint, timeout=30, retries=0, keys=curve_engine.alice) as c:
            info = c.info()
        assert isinstance(info, P.InfoReply) and info.pid == curve_engine.proc.pid
    res = chromahint(
        "info",
        "--endpoint",
        curve_engine.tcp,
        "--server-key",
        str(curve_engine.server_key),
        "--client-key",
        str(curve_engine.alice_pair),
        env=curve_engine.env,
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["pid"] == curve_engine.proc.pid


def test_colorize_command_uses_the_keys_and_starts_no_private_engine_when_refused(
    curve_engine: CurveEngine, tmp_path: Path
) -> None:
    from PIL import Image

    photo, out = tmp_path / "gray.png", tmp_path / "out.png"
    Image.new("L", (32, 24), 120).save(photo)
    keys = ["--server-key", str(curve_engine.server_key), "--client-key"]
    res = chromahint(
        "colorize",
        str(photo),
        "-o",
        str(out),
        "--endpoint",
        curve_engine.tcp,
        *keys,
        str(curve_engine.alice_pair),
        env=curve_engine.env,
    )
    assert res.returncode == 0, res.stderr
    assert Image.open(out).size == (32, 24)

    res = chromahint(
        "colorize",
        str(photo),
        "-o",
        str(tmp_path / "no.png"),
        "--endpoint",
        curve_engine.tcp,
        env=curve_engine.env,
    )
    assert res.returncode == 1 and "requires CURVE authentication" in res.stderr
    assert "starting one" not in res.stderr and not (tmp_path / "no.png").exists()


def test_clients_without_an_allowed_key_get_no_reply(
    curve_engine: CurveEngine, tmp_path: Path
) -> None:
    _, mallory_pair, _ = create_client_keys(tmp_path / "elsewhere", "mallory")
    mallory = CurveKeys.from_files(curve_engine.server_key, mallory_pair)
    impostor_public, _ = create_server_keys(tmp_path / "impostor")
    wrong_server = CurveKeys.from_files(impostor_public, curve_engine.alice_pair)

    # CURVE applies to the whole socket: the ipc:// endpoint wants keys too.
    for endpoint in (curve_engine.tcp, curve_engine.ipc):
        assert_refused(endpoint, None, "requires CURVE authentication")  # either wording
        assert no_reply_on_a_plain_socket(endpoint, None)
    assert_refused(curve_engine.tcp, mallory, "not in the engine's allow folder")
    assert no_reply_on_a_plain_socket(curve_engine.tcp, mallory)
    assert_refused(curve_engine.tcp, wrong_server, "server key")
    assert no_reply_on_a_plain_socket(curve_engine.tcp, wrong_server)

    res = chromahint(
        "info", "--endpoint", curve_engine.tcp, "--timeout", "1", env=os.environ.copy()
    )
    assert res.returncode == 1 and "requires CURVE authentication" in res.stderr
    with Client(curve_engine.tcp, timeout=30, retries=0, keys=curve_engine.alice) as c:
        assert c.info().pid == curve_engine.proc.pid  # still serving


def test_the_allow_folder_reloads_on_sighup(curve_engine: CurveEngine, tmp_path: Path) -> None:
    bob_public, bob_pair, _ = create_client_keys(tmp_path / "bob", "bob")
    bob = CurveKeys.from_files(curve_engine.server_key, bob_pair)
    assert_refused(curve_engine.tcp, bob, "allow folder")

    allow_public_key(curve_engine.keys_dir, bob_public, "bob")
    curve_engine.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while is_running(curve_engine.tcp, bob) is None:
        assert time.monotonic() < deadline, "bob's key was not accepted after SIGHUP"

    revoke(curve_engine.keys_dir, "bob")
    curve_engine.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while is_running(curve_engine.tcp, bob) is not None:
        assert time.monotonic() < deadline, "bob's key was still accepted after revoking"
    assert_refused(curve_engine.tcp, bob, "allow folder")
    assert curve_engine.proc.poll() is None


# -- the plug-ins' settings -------------------------------------------------------------------
def write_settings(folder: Path, **doc: object) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "chromahint.json").write_text(json.dumps(doc))


def test_plugin_settings_carry_the_key_files_to_the_engine(
    curve_engine: CurveEngine, tmp_path: Path
) -> None:
    folder = tmp_path / "plugin"
    write_settings(
        folder,
        endpoint=curve_engine.tcp,
        engine_command="false",  # starting an engine would fail loudly
        server_key=str(curve_engine.server_key),
        client_key=str(curve_engine.alice_pair),
    )
    settings = load(str(folder))
    assert settings.curve == curve_engine.alice
    assert "secret" not in repr(settings.curve) and curve_engine.alice.secret.decode() not in repr(
        settings
    )
    info = engine_info(settings)
    assert info is not None and info.pid == curve_engine.proc.pid

    # Without keys, the engine refuses: reported as such, and no engine is started.
    plain = Settings(endpoint=curve_engine.tcp, engine_command="false", path="x.json")
    with pytest.raises(EngineAuthError):
        engine_info(plain)


@pytest.mark.unit
def test_plugin_settings_key_fields_follow_the_one_failure_rule(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    server_public, server_secret = create_server_keys(keys)
    client_public, client_pair, _ = create_client_keys(keys, "carol")
    folder = tmp_path / "plugin"

    write_settings(folder, endpoint="tcp://127.0.0.2:5557")
    assert load(str(folder)).curve is None

    # Relative paths are read from the settings' folder.
    rel = os.path.relpath(server_public, folder), os.path.relpath(client_pair, folder)
    write_settings(folder, server_key=rel[0], client_key=rel[1])
    s = load(str(folder))
    assert s.curve == CurveKeys.from_files(server_public, client_pair)

    bad = [
        ({"server_key": str(server_public)}, "'client_key'"),
        ({"client_key": str(client_pair)}, "'server_key'"),
        ({"server_key": 5, "client_key": str(client_pair)}, "must be a string"),
        ({"server_key": str(server_secret), "client_key": str(client_pair)}, "secret key"),
        ({"server_key": str(server_public), "client_key": str(client_public)}, "key pair"),
        ({"server_key": str(tmp_path / "nope.key"), "client_key": str(client_pair)}, "nope"),
        ({"server_key": str(folder / "chromahint.json"), "client_key": str(client_pair)}, ""),
    ]
    for doc, words in bad:
        write_settings(folder, **doc)
        with pytest.raises(SettingsError) as caught:
            load(str(folder))
        assert str(folder / "chromahint.json") in str(caught.value) and words in str(caught.value)
