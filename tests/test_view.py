"""Tests of msft_cli.view's server through HTTP: tiles, audio, and what it refuses.

One server (in a thread, on a free port) shows four files made from the
same 3.3 s stereo clip at 22.05 kHz: a container, a magnitude container (from
110 Hz up: short margins), the audio file itself (analysed on the fly) and a
periodic-mode container. Its overview starts at level 2,
so tiles at zoom 2 and up come from the pyramid, below from the chunks.
"""

import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from msft_cli import Coefficients, analyze, load
from msft_cli.phase import reconstruct
from msft_cli.render import raster
from msft_cli.view import start, stop
from msft_cli.view import audio as view_audio

SR = 22050
N = int(3.3 * SR)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("view")
    rng = np.random.default_rng(3)
    t = np.arange(N) / SR
    y = np.stack([0.3 * np.sin(2 * np.pi * 440 * t),
                  0.2 * np.sin(2 * np.pi * (200 + 300 * t) * t)])
    y += 0.01 * rng.standard_normal(y.shape)
    y[0, 30000:30022] += 0.5  # a 1 ms click
    sf.write(d / "clip.wav", y.T, SR, subtype="FLOAT")
    analyze(d / "clip.wav", d / "clip.h5")
    analyze(d / "clip.wav", d / "mag.h5", store="magnitude", fmin=110.0)  # float16
    analyze(d / "clip.wav", d / "periodic.h5", mode="periodic")
    return d


@pytest.fixture(scope="module")
def server(files):
    s = start([files / "clip.h5", files / "mag.h5", files / "clip.wav", files / "periodic.h5"],
              min_level=2)
    yield s
    folder = s.viewer.folder
    stop(s)
    assert not folder.exists()  # the temporary container and the overview are gone


@pytest.fixture(scope="module")
def box(files):
    with load(files / "clip.h5") as b:
        yield b


def get(server, path, token=True, headers=None):
    """``(status, headers, body)`` of a GET; the token is added unless ``token`` is False."""
    base = f"http://127.0.0.1:{server.server_address[1]}"
    if token:
        path += ("&" if "?" in path else "?") + f"token={server.viewer.token}"
    req = urllib.request.Request(base + path, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.headers, e.read()


def tile(server, file, z, x, channel="mix"):
    status, headers, body = get(server, f"/api/tile?file={file}&z={z}&x={x}&channel={channel}")
    assert status == 200, body
    rows, cols = int(headers["X-Rows"]), int(headers["X-Columns"])
    return np.frombuffer(body, "<f4").reshape(rows, cols)


def test_url_is_local_with_token(server):
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/\?token=[\w-]{32}", server.url)
    assert server.server_address[0] == "127.0.0.1"


def test_page_and_its_files(server):
    status, headers, body = get(server, "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    page = body.decode()
    assert server.viewer.token in page and "{{TOKEN}}" not in page
    for name in ("viewer.js", "viewer.css", "colormaps.js"):
        status, _, body = get(server, f"/static/{name}")
        assert status == 200 and body, name
    assert "http" not in re.sub(r"http://127|xmlns=\"http[^\"]*\"", "", page)  # no CDN


def test_files_describe_each_input(server, box):
    status, _, body = get(server, "/api/files")
    files = json.loads(body)["files"]
    assert [f["name"] for f in files] == ["clip.h5", "mag.h5", "clip.wav", "periodic.h5"]
    f = files[0]
    assert (f["sr"], f["n_samples"], f["n_channels"]) == (SR, N, 2)
    assert f["frequencies"] == pytest.approx(np.concatenate(box.frequencies).tolist())
    assert f["top_hop"] == box.hops[-1] and f["columns"] == 256
    assert files[1]["store"] == "magnitude"


@pytest.mark.parametrize("z", [0, 1, 2, 3])
@pytest.mark.parametrize("channel", ["mix", 1])
@pytest.mark.parametrize("file, name", [(0, "clip.h5"), (1, "mag.h5")])
def test_tiles_equal_the_raster_of_their_range(server, files, file, name, z, channel):
    with load(files / name) as b:
        width = 256 * b.hops[-1] << z
        for x in range(N // width):  # the tiles inside the signal
            expected = raster(b, 256, start=x * width / SR, end=(x + 1) * width / SR,
                              channel=channel).db
            np.testing.assert_array_equal(tile(server, file, z, x, channel), expected)


def test_last_tile_is_blank_past_the_end(server, box):
    z = server.viewer.tiles[0].max_zoom
    t = tile(server, 0, z, 0)
    step = (256 * box.hops[-1] << z) // 256
    inside = np.arange(256) * step < N
    assert np.isnan(t[:, ~inside]).all() and np.isfinite(t[:, inside]).all()
    # the whole file in one tile still shows the 1 ms click in the top octave
    assert t[-12:, 30000 // step].max() > t[-12:, 10000 // step].max() + 6


def test_audio_input_tiles_equal_the_container(server):
    np.testing.assert_array_equal(tile(server, 2, 3, 1), tile(server, 0, 3, 1))


def wav(body):
    y, sr = sf.read(io.BytesIO(body), dtype="float64", always_2d=True)
    assert sr == SR
    return y.T


def test_audio_equals_resynthesis_of_the_range(server, box):
    whole = box.to_audio()
    status, headers, body = get(server, "/api/audio?file=0&start=0.5&end=2.75&format=float")
    assert status == 200 and headers["Content-Type"] == "audio/wav"
    assert int(headers["Content-Length"]) == len(body)
    a, b = int(0.5 * SR), int(round(2.75 * SR))
    np.testing.assert_allclose(wav(body), whole[:, a:b], atol=1e-6)
    _, _, body = get(server, "/api/audio?file=0&start=0&end=3.3&channel=1")  # 16-bit
    np.testing.assert_allclose(wav(body)[0], whole[1], atol=1 / 32767)


def test_audio_requests_at_once_do_not_mix(server, box):
    """Two threads resynthesizing from one transform at the same time each get their own."""
    from concurrent.futures import ThreadPoolExecutor
    whole = box.to_audio()
    ranges = [(0.2, 1.9), (1.1, 3.2), (0.6, 2.4), (2.0, 3.0)]
    with ThreadPoolExecutor(4) as pool:
        bodies = list(pool.map(lambda r: get(server, f"/api/audio?file=0&start={r[0]}"
                                                     f"&end={r[1]}&format=float")[2], ranges))
    for (a, b), body in zip(ranges, bodies):
        np.testing.assert_allclose(wav(body), whole[:, round(a * SR):round(b * SR)], atol=1e-6)


def test_audio_of_a_periodic_container(server, files):
    with load(files / "periodic.h5") as p:
        whole = p.to_audio()
    _, _, body = get(server, "/api/audio?file=3&start=1&end=2&channel=0&format=float")
    np.testing.assert_allclose(wav(body)[0], whole[0, SR:2 * SR], atol=1e-6)


def test_audio_band_solo_zeroes_the_other_bins(server, box):
    c = box.to_coefficients()
    freqs = [np.array([0.0])] + list(box.frequencies) + [np.array([SR / 2])]
    for g, f in zip(c.groups, freqs):
        g[:, (f < 300) | (f > 1000)] = 0
    expected = c.inverse()
    _, _, body = get(server, "/api/audio?file=0&start=1&end=2&f_lo=300&f_hi=1000"
                             "&format=float")
    np.testing.assert_allclose(wav(body), expected[:, SR:2 * SR], atol=1e-6)


def test_audio_of_a_magnitude_container_reconstructs_the_phases(server, files):
    a, b = int(1.0 * SR), int(1.5 * SR)
    _, _, body = get(server, "/api/audio?file=1&start=1&end=1.5&channel=1&format=float"
                             "&iterations=1")
    with load(files / "mag.h5") as m:  # the same crop, reconstructed through the library
        t = m.transform
        lo = (a - t.margin) // t.hop_max * t.hop_max
        hi = b + t.margin
        names = ["lowpass"] + list(range(t.n_octaves)) + ["highpass"]
        groups, firsts = [], []
        for g, spec in enumerate(t.groups):
            f0, f1 = -(-lo // spec.hop), -(-hi // spec.hop)
            x = m.read_frames(names[g], f0, f1)[1:]
            groups.append(x.astype(np.float64 if spec.kind != "octave" else np.float32))
            firsts.append(f0 - lo // spec.hop)
        y = reconstruct(Coefficients(t, hi - lo, groups, firsts=firsts), 1).inverse()
    np.testing.assert_allclose(wav(body), y[:, a - lo:b - lo], atol=1e-6)


@pytest.mark.parametrize("path, status", [
    ("/api/tile?file=0&z=0&x=0", 403),                    # no token
    ("/api/tile?file=0&z=0&x=0&token=nope", 403),         # a wrong token
    ("/../../../../etc/passwd", 403),
])
def test_refused_without_the_token(server, path, status):
    assert get(server, path, token=False)[0] == status


@pytest.mark.parametrize("path, status", [
    ("/etc/passwd", 404),
    ("/static/../server.py", 404),
    ("/static/..%2f__init__.py", 404),
    ("/static/%2e%2e/%2e%2e/cli.py", 404),
    ("/api/tile?file=../../etc/passwd&z=0&x=0", 404),    # a path outside the given files
    ("/api/tile?file=%2Fetc%2Fpasswd&z=0&x=0", 404),
    ("/api/tile?file=4&z=0&x=0", 404),
    ("/api/tile?file=0&z=0&x=99999", 404),                # a tile outside the file
    ("/api/tile?file=0&z=-1&x=0", 404),
    ("/api/tile?file=0&z=40&x=0", 404),
    ("/api/tile?file=0&z=zero&x=0", 400),
    ("/api/tile?file=0&z=0", 400),
    ("/api/tile?file=0&z=0&x=0&channel=2", 400),
    ("/api/tile?file=0&z=0&x=0&channel=left", 400),
    ("/api/audio?file=0&start=3&end=4", 400),             # a range outside the file
    ("/api/audio?file=0&start=-1&end=1", 400),
    ("/api/audio?file=0&start=2&end=1", 400),
    ("/api/audio?file=0&start=nan&end=1", 400),
    ("/api/audio?file=0&start=0&end=1&f_lo=900&f_hi=100", 400),
    ("/api/audio?file=0&start=0&end=1&format=mp3", 400),
    ("/api/audio?file=0&start=0", 400),
    ("/api/audio?file=0&start=0&end=1&iterations=9999", 400),
    ("/api/nothing", 404),
])
def test_bad_requests_get_4xx(server, path, status):
    code, _, body = get(server, path)
    assert code == status, body
    text = body.decode()
    assert text.startswith("Error: ") and text.count("\n") == 1 and "Traceback" not in text


def test_foreign_host_and_other_methods_are_refused(server):
    assert get(server, "/", headers={"Host": "evil.example:80"})[0] == 403
    base = f"http://127.0.0.1:{server.server_address[1]}/?token={server.viewer.token}"
    req = urllib.request.Request(base, data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    e.value.close()
    assert e.value.code == 405


def test_garbage_does_not_stop_the_server(server):
    import socket
    for raw in (b"\x00\xff garbage\r\n\r\n", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
                b"GET /?token=" + server.viewer.token.encode() + b" HTTP/1.1\r\n"):
        with socket.create_connection(("127.0.0.1", server.server_address[1]), 5) as s:
            s.sendall(raw)
            s.shutdown(socket.SHUT_WR)
            s.recv(1000)
    assert get(server, "/api/files")[0] == 200


def test_wav_header_sizes():
    for fmt, width in (("pcm16", 2), ("float", 4)):
        body = view_audio.wav_header(10, 2, SR, fmt) + view_audio.wav_bytes(np.zeros((2, 10)),
                                                                              fmt)
        info = sf.info(io.BytesIO(body))
        assert (info.frames, info.channels, info.samplerate) == (10, 2, SR)


def test_cli_serves_until_ctrl_c(files):
    """``msft view IN --no-browser``: prints the URL, serves it, stops on SIGINT, cleans up."""
    proc = subprocess.Popen([sys.executable, "-m", "msft_cli", "view", str(files / "clip.wav"),
                             "--no-browser"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        url = None
        for line in proc.stdout:
            m = re.search(r"(http://127\.0\.0\.1:\d+/\?token=\S+)", line)
            if m:
                url = m.group(1)
                break
        assert url is not None
        with urllib.request.urlopen(url.replace("/?", "/api/files?"), timeout=30) as r:
            assert json.loads(r.read())["files"][0]["name"] == "clip.wav"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Stopped." in out and "Traceback" not in err
    assert not list(Path(tempfile.gettempdir()).glob("msft-view-*/0-clip.h5"))


def test_cli_refuses_missing_input(tmp_path):
    from click.testing import CliRunner
    from msft_cli.cli import main
    result = CliRunner().invoke(main, ["view", str(tmp_path / "none.h5"), "--no-browser"])
    assert result.exit_code == 1
    assert result.output == f"Error: {tmp_path / 'none.h5'}: no such file\n"


def test_cli_refuses_a_folder_and_a_busy_port(files):
    import socket
    from click.testing import CliRunner
    from msft_cli.cli import main
    result = CliRunner().invoke(main, ["view", str(files), "--no-browser"])
    assert (result.exit_code, result.output) == (
        1, f"Error: {files}: is a folder: msft view shows a container or an audio file\n")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(main, ["view", str(files / "clip.h5"), "--no-browser",
                                           "--port", str(port)])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: cannot listen on 127.0.0.1:{port} (")
