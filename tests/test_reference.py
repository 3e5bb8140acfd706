"""Colorizing from a reference picture through a real engine (issue 11): a reference that
fits helps, one that does not changes nothing, bad references get clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from skimage import data as skdata

from chromahint_client import Client, EngineReplyError
from chromahint_client import protocol as P

pytestmark = pytest.mark.engine

SIDE = 256


def rgb_image(rgb: np.ndarray) -> P.Image:
    rgb = np.ascontiguousarray(rgb, np.uint8)
    return P.Image(rgb.shape[1], rgb.shape[0], "rgb8", rgb.tobytes())


def picture() -> np.ndarray:
    return np.asarray(PILImage.fromarray(skdata.astronaut()).resize((SIDE, SIDE)))


def psnr(layer: P.Image, truth: np.ndarray) -> float:
    out = np.frombuffer(layer.data, np.uint8).reshape(layer.height, layer.width, 4)[..., :3]
    mse = np.mean((out.astype(np.float64) - truth.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0**2 / mse)


@pytest.fixture(scope="module")
def client(engine):
    with Client(engine.endpoint, timeout=120) as c:
        if c.info().model(P.Mode.PHOTO) is None or not c.info().model(P.Mode.PHOTO).learned:
            pytest.fail("the shipped photo model did not load")
        yield c


def test_a_fitting_reference_helps_and_an_unrelated_one_changes_nothing(client):
    truth = picture()
    gray = rgb_image(truth)  # colorized from its lightness only
    auto = client.colorize(P.ColorizeRequest(gray))
    assert auto.reference_confidence is None
    # The picture itself, mirrored and at another size: it fits.
    mirrored = np.asarray(PILImage.fromarray(truth[:, ::-1]).resize((300, 200)))
    fitting = client.colorize(P.ColorizeRequest(gray, reference=rgb_image(mirrored)))
    assert fitting.reference_confidence is not None and fitting.reference_confidence > 0.3
    assert psnr(fitting.layer, truth) > psnr(auto.layer, truth) + 0.5
    # A flat colour field matches nothing: the result is the automatic one, to the byte.
    field = np.zeros((64, 64, 3), np.uint8)
    field[..., 0], field[..., 2] = 200, 40
    unrelated = client.colorize(P.ColorizeRequest(gray, reference=rgb_image(field)))
    assert unrelated.reference_confidence is not None and unrelated.reference_confidence < 0.2
    assert unrelated.layer.data == auto.layer.data
    # Palette mode: the reference's colours as a global hint, no matching.
    pal = client.colorize(
        P.ColorizeRequest(
            gray, reference=rgb_image(mirrored), reference_mode=P.ReferenceMode.PALETTE
        )
    )
    assert pal.layer.data != auto.layer.data and 0 <= (pal.reference_confidence or 0) <= 1


def test_point_hints_win_over_the_reference(client):
    truth = picture()
    hint = P.Point(60.0, 200.0, (20.0, 200.0, 40.0), 12)  # green on the orange suit
    req = P.ColorizeRequest(rgb_image(truth), (hint,), reference=rgb_image(truth[:, ::-1]))
    layer = client.colorize(req).layer
    out = np.frombuffer(layer.data, np.uint8).reshape(SIDE, SIDE, 4)
    r, g, b = out[200, 60, :3].astype(int)
    assert g > r and g > b


@pytest.mark.parametrize(
    "reference, code, words",
    [
        (P.Image(8, 8, "gray8", bytes(64)), "bad_image", "gray picture"),
        (rgb_image(np.full((16, 16, 3), 128, np.uint8)), "bad_image", "gray"),
        (P.Image(8, 8, "rgb8", bytes(10)), "bad_image", "reference"),
    ],
)
def test_bad_references_get_clear_errors_and_the_engine_keeps_serving(
    client, reference, code, words
):
    with pytest.raises(EngineReplyError) as err:
        client.colorize(P.ColorizeRequest(rgb_image(picture()), reference=reference))
    assert err.value.code == code and words in str(err.value)
    assert client.info().pid > 0


def test_a_reference_is_for_photos(client):
    with pytest.raises(EngineReplyError) as err:
        client.request(
            P.Op.COLORIZE.value,
            image=rgb_image(picture()).to_map(),
            mode="lineart",
            reference=rgb_image(picture()).to_map(),
        )
    assert err.value.code == "unsupported" and "reference" in str(err.value)


def save_jpeg(path, rgb: np.ndarray) -> None:
    PILImage.fromarray(np.ascontiguousarray(rgb)).save(path, quality=90)


def test_recommend_references_ranks_candidates_sent_in_the_request(client):
    truth = picture()
    others = [skdata.coffee(), skdata.rocket(), skdata.chelsea()]
    candidates = tuple(rgb_image(c) for c in [*others[:2], truth[:, ::-1], others[2]])
    reply = client.recommend_references(
        P.RecommendReferencesRequest(rgb_image(truth), candidates, limit=3)
    )
    assert [r.index for r in reply.ranking][:1] == [2]  # the mirrored picture itself
    assert len(reply.ranking) == 3
    assert all(a.score >= b.score for a, b in zip(reply.ranking, reply.ranking[1:], strict=False))


def test_recommend_from_a_folder_indexes_once_skips_bad_files_and_stays_in_its_roots(
    engine_factory, tmp_path, monkeypatch
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = tmp_path / "library"
    (root / "trip").mkdir(parents=True)
    (root / "empty").mkdir()
    truth = picture()
    save_jpeg(root / "trip" / "mirror.jpg", truth[:, ::-1])
    save_jpeg(root / "trip" / "coffee.jpg", skdata.coffee())
    save_jpeg(root / "trip" / "cat.jpg", skdata.chelsea())
    (root / "trip" / "broken.jpg").write_bytes(b"not a picture")
    (root / "trip" / "notes.txt").write_text("not a picture either, and not counted")
    e = engine_factory("--reference-root", str(root))
    with Client(e.endpoint, timeout=120) as c:
        ask = P.RecommendReferencesRequest(rgb_image(truth), folder=str(root / "trip"), limit=2)
        first = c.recommend_references(ask)
        assert first.ranking[0].path == str((root / "trip" / "mirror.jpg").resolve())
        assert (first.indexed, first.skipped, len(first.ranking)) == (4, 1, 2)
        again = c.recommend_references(ask)  # from the index: nothing described again
        assert again.indexed == 0 and again.ranking == first.ranking
        save_jpeg(root / "trip" / "coffee.jpg", skdata.rocket())  # a file changes
        assert c.recommend_references(ask).indexed == 1
        for folder, code, words in (
            (str(root / "empty"), "bad_request", "no pictures"),
            (str(root / "nowhere"), "forbidden", "reference roots"),
            (str(tmp_path), "forbidden", "reference roots"),
            (str(root / "trip" / ".." / ".."), "forbidden", "reference roots"),
        ):
            with pytest.raises(EngineReplyError) as err:
                c.recommend_references(
                    P.RecommendReferencesRequest(rgb_image(truth), folder=folder)
                )
            assert err.value.code == code and words in str(err.value), folder
        assert c.info().pid > 0


def test_cli_recommends_a_folder_and_colorizes_from_its_best(tmp_path):
    """`chromahint recommend photo FOLDER` ranks the folder; `chromahint colorize photo
    --reference-from FOLDER` (fully automatic) takes the best one as the reference."""
    import subprocess
    import sys

    from conftest import free_endpoint

    folder = tmp_path / "refs"
    folder.mkdir()
    for name in ("astronaut", "coffee", "chelsea"):
        PILImage.fromarray(getattr(skdata, name)()).convert("RGB").resize((160, 128)).save(
            folder / f"{name}.jpg"
        )
    (folder / "notes.txt").write_text("not a picture")
    photo = tmp_path / "photo.png"
    PILImage.fromarray(picture()).convert("L").save(photo)
    private = ["--endpoint", free_endpoint()]  # nothing there: each starts its own engine

    def chromahint(*args: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "chromahint", *args, *private]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300)

    ranked = chromahint("recommend", str(photo), str(folder))
    assert ranked.returncode == 0, ranked.stderr
    lines = [line.split() for line in ranked.stdout.splitlines()]
    assert [int(rank) for rank, _, _ in lines] == [1, 2, 3]
    assert {Path(path).name for _, _, path in lines} == {
        "astronaut.jpg",
        "coffee.jpg",
        "chelsea.jpg",
    }
    scores = [float(score) for _, score, _ in lines]
    assert scores == sorted(scores, reverse=True)
    best = Path(lines[0][2])
    out = tmp_path / "out.png"
    run = chromahint("colorize", str(photo), "--reference-from", str(folder), "-o", str(out))
    assert run.returncode == 0, run.stderr
    assert f"reference: {best}" in run.stdout and "reference fit" in run.stdout, run.stdout
    assert PILImage.open(out).size == (SIDE, SIDE)
