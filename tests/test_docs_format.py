"""docs/FORMAT.md: its examples run, it names everything the writer stores, its formulas hold."""

import ast
import builtins
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

import msft_cli
from msft_cli import MSFT, Container, load, save

DOC = Path(__file__).resolve().parent.parent / "docs" / "FORMAT.md"
SR = 44100


@pytest.fixture(scope="module")
def doc():
    return DOC.read_text(encoding="utf-8")


def _section(text, heading, level=2):
    """The text under a heading of this level, up to the next heading of that level or above."""
    hashes = "#" * level
    m = re.search(rf"^{hashes} {re.escape(heading)}\n(.*?)(?=^#{{1,{level}}} |\Z)", text,
                  re.MULTILINE | re.DOTALL)
    assert m, f"FORMAT.md has no section '{hashes} {heading}'"
    return m.group(1)


def _python_blocks(text):
    return re.findall(r"^```python\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def _with_path(code, path):
    """The example with its ``path = ...`` line pointed at a real container."""
    code, n = re.subn(r"^path = .*$", f"path = {str(path)!r}", code, count=1,
                      flags=re.MULTILINE)
    assert n == 1, "the example must define `path = ...` on a line of its own"
    return code


def _table_names(section):
    """Names in the first column of a markdown table: | `name` | ..."""
    return re.findall(r"^\| `(\w+)` \|", section, re.MULTILINE)


@pytest.fixture(scope="module")
def container(tmp_path_factory):
    """2.5 s of stereo noise plus a sine in octave 5, as msft writes it (complex64)."""
    t = MSFT(SR, fmin=200.0)
    n = int(2.5 * SR)
    rng = np.random.default_rng(99)
    sine = 0.5 * np.sin(2 * np.pi * t.frequencies[5][3] * np.arange(n) / SR)
    y = 0.01 * rng.standard_normal((2, n)) + sine
    path = tmp_path_factory.mktemp("doc") / "tone.h5"
    save(t.forward(y), path, dtype="complex64",
         source={"name": "tone.wav", "format": "WAV", "subtype": "PCM_16"})
    return path


@pytest.fixture(scope="module")
def periodic_container(tmp_path_factory):
    t = MSFT(SR, fmin=200.0, mode="periodic")
    path = tmp_path_factory.mktemp("doc") / "periodic.h5"
    save(t.forward(np.random.default_rng(3).standard_normal(5000)), path)
    return path


# -- the plain h5py example ---------------------------------------------------------

@pytest.fixture(scope="module")
def h5py_example(doc):
    blocks = _python_blocks(_section(doc, "Reading a container with plain h5py"))
    assert len(blocks) == 1
    return blocks[0]


def test_h5py_example_does_not_import_msft(h5py_example):
    imported = set()
    for node in ast.walk(ast.parse(h5py_example)):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported == {"h5py", "numpy"}
    assert "msft_cli" not in h5py_example and "importlib" not in h5py_example


def test_h5py_example_runs_on_a_real_container(h5py_example, container, tmp_path):
    out = tmp_path / "result.npz"
    check = (
        "\nimport sys as _sys\n"
        "_used = sorted(m for m in _sys.modules if m.split('.')[0] in ('msft', 'msft_cli'))\n"
        "assert not _used, f'the example imported {_used}'\n"
        f"np.savez({str(out)!r}, db=db, times=times, freqs=freqs, c=c)\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([sys.executable, "-c", _with_path(h5py_example, container) + check],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "tone.wav (WAV, PCM_16)" in run.stdout
    assert "2.500 s at 44100 Hz, 2 channel(s)" in run.stdout
    assert "6 octaves x 12 bins from 200.000 Hz, window bump, mode zero" in run.stdout
    got = np.load(out)
    with load(container) as box:
        part = box.crop(1.0, 2.0)
        np.testing.assert_array_equal(got["times"], part.times[5])
        np.testing.assert_array_equal(got["c"], part.octaves[5])
        np.testing.assert_array_equal(got["freqs"], box.frequencies[5])
        np.testing.assert_allclose(got["db"], part.magnitude_db()[5], atol=1e-3)
    assert got["times"][0] >= 1.0 and got["times"][-1] <= 2.0
    assert got["db"].shape == (2, 12, len(got["times"]))
    assert abs(got["db"][:, 3].mean() - 20 * np.log10(0.5)) < 0.1  # the sine, in dBFS


def test_h5py_example_reads_a_complex32_container(h5py_example, tmp_path):
    t = MSFT(SR, fmin=200.0)
    n = int(2.5 * SR)
    y = 0.5 * np.sin(2 * np.pi * t.frequencies[5][3] * np.arange(n) / SR)
    path = tmp_path / "tone32.h5"
    save(t.forward(np.stack([y, y])), path, dtype="complex32",
         source={"name": "tone.wav", "format": "WAV", "subtype": "PCM_16"})
    out = tmp_path / "result.npz"
    check = f"\nnp.savez({str(out)!r}, db=db, c=c)\n"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([sys.executable, "-c", _with_path(h5py_example, path) + check],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    got = np.load(out)
    with load(path) as box:
        assert box.stored_dtype == "complex32" and box.dtype == np.complex64
        np.testing.assert_array_equal(got["c"], box.crop(1.0, 2.0).octaves[5])
    assert abs(got["db"][:, 3].mean() - 20 * np.log10(0.5)) < 0.1


def test_h5py_example_refuses_a_newer_version(h5py_example, container, tmp_path):
    path = tmp_path / "future.h5"
    path.write_bytes(container.read_bytes())
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = 2
    with pytest.raises(ValueError, match="newer"):
        exec(compile(_with_path(h5py_example, path), "FORMAT.md", "exec"), {})


def test_api_example_runs(doc, container, capsys):
    blocks = _python_blocks(_section(doc, "The Python API"))
    assert blocks
    for code in blocks:
        namespace = {}
        exec(compile(_with_path(code, container), "FORMAT.md", "exec"), namespace)
    assert "tone.wav" in capsys.readouterr().out
    with load(container) as box:
        np.testing.assert_array_equal(namespace["db"], box.crop(1.0, 2.0).magnitude_db()[5])
        assert namespace["img"].shape[0] == box.n_octaves * 12
        assert namespace["audio"].shape == (2, box.n_samples)


# -- everything stored is documented --------------------------------------------------

def test_every_root_attribute_is_documented(doc, container, periodic_container):
    table = set(_table_names(_section(doc, "Root attributes")))
    for path in (container, periodic_container):
        with h5py.File(path, "r") as f:
            written = set(f.attrs)
        assert written == table, "FORMAT.md's root attribute table differs from the writer"
        for name in written:
            assert f"`{name}`" in doc


def test_every_dataset_attribute_is_documented(doc, container, periodic_container):
    table = set(_table_names(_section(doc, "Dataset attributes", level=3)))
    for path in (container, periodic_container):
        with h5py.File(path, "r") as f:
            written = set()
            for ds in f.values():
                written |= set(ds.attrs)
        assert written == table, "FORMAT.md's dataset attribute table differs from the writer"


def test_every_dataset_is_documented(doc, container):
    layout = _section(doc, "File layout")
    for name in ("/lowpass", "/octave_0", "/octave_<J-1>", "/highpass"):
        assert name in layout
    with h5py.File(container, "r") as f:
        assert all(isinstance(v, h5py.Dataset) for v in f.values())
        names = set(f)
        kinds = {f[n].attrs["kind"] for n in names}
        n_octaves = int(f.attrs["n_octaves"])
    assert names == {"lowpass", "highpass"} | {f"octave_{j}" for j in range(n_octaves)}
    assert all(f"`{k}`" in doc or f'"{k}"' in doc for k in kinds)


def test_documented_version_is_the_written_one(doc, container):
    with h5py.File(container, "r") as f:
        assert f.attrs["format"] == "msft" and f.attrs["format_version"] == 1
    assert doc.startswith("# The msft container format, version 1\n")
    assert msft_cli.io.container.FORMAT_VERSION == 1


def test_documented_api_exists_with_these_signatures(doc):
    api = _section(doc, "The Python API")
    for name in ("load", "info", "save"):
        assert f"msft_cli.{name}(" in api
    for name in ("octaves", "frequencies", "frame_times", "crop", "magnitude_db", "image",
                 "to_audio", "to_coefficients"):
        assert f"`{name}" in api and hasattr(Container, name), name
    calls = re.findall(r"`(?:msft_cli\.)?(\w+)\(([^`]*)\)`", api)
    assert len(calls) >= 10
    for name, args in calls:
        if hasattr(builtins, name):  # str(), print()
            continue
        obj = getattr(msft_cli, name, None) or getattr(Container, name)
        real = [p for p in inspect.signature(obj).parameters.values() if p.name != "self"]
        shown = ast.parse(f"def f({args}): pass").body[0].args
        names = [a.arg for a in shown.args]
        assert names == [p.name for p in real[:len(names)]], name
        for arg, default in zip(shown.args[len(shown.args) - len(shown.defaults):],
                                shown.defaults):
            real_default = next(p.default for p in real if p.name == arg.arg)
            assert ast.literal_eval(default) == real_default, (name, arg.arg)


# -- the formulas hold ----------------------------------------------------------------

def _smooth_step(x):
    x = np.clip(x, 0.0, 1.0)

    def e(v):
        return np.where(v > 0, np.exp(-2.0 / np.where(v > 0, v, 1.0)), 0.0)
    return e(x) / (e(x) + e(1.0 - x))


def _shape(window, x):
    x = np.abs(x)
    w = np.cos(np.pi / 2 * _smooth_step(x)) if window == "bump" else \
        np.cos(np.pi / 2 * np.clip(x, 0, 1)) ** 2
    return np.where(x < 1, w, 0.0)


def _window(kind, f, f_ref, B, window):
    """A band's window as FORMAT.md defines it."""
    u = B * np.log2(np.maximum(f, 1e-300) / f_ref)
    if kind == "octave":
        return _shape(window, u)
    if kind == "lowpass":
        return np.where(u <= -1, 1.0, np.where(u < 0, _shape(window, 1 + u), 0.0))
    return np.where(u >= 1, 1.0, np.where(u > 0, _shape(window, 1 - u), 0.0))


@pytest.mark.parametrize("window, mode", [("bump", "zero"), ("bump", "periodic"),
                                          ("hann", "periodic")])
def test_coefficients_are_what_the_document_says(window, mode, tmp_path):
    """Recompute stored values from FORMAT.md's definitions with numpy's FFT alone."""
    n = 22050
    x = np.random.default_rng(5).standard_normal((1, n))
    path = save(MSFT(SR, fmin=200.0, window=window, mode=mode).forward(x),
                tmp_path / "x.h5", dtype="complex128")
    with h5py.File(path, "r") as f:
        a = f.attrs
        B, J, fmin = int(a["bins_per_octave"]), int(a["n_octaves"]), float(a["fmin"])
        fmax = fmin * 2 ** (J - 1 / B)
        hops = {name: int(ds.attrs["hop"]) for name, ds in f.items()}
        # the hop formulas
        width = fmin * (2 - 2 ** (1 - 2 / B))
        assert hops["octave_0"] == 2 ** int(np.floor(np.log2(SR / width)))
        assert all(hops[f"octave_{j}"] == hops["octave_0"] >> j for j in range(J))
        assert hops["lowpass"] == 2 ** int(np.floor(np.log2(SR / (2 * fmin))))
        assert hops["highpass"] == 2 ** int(np.floor(np.log2(SR / (SR - 2 * fmax))))
        if mode == "periodic":
            big = max(hops.values())
            N = int(a["period"])
            assert N == min(big * c * 2 ** k for c in (1, 3, 5, 7) for k in range(20)
                            if big * c * 2 ** k >= n)
        else:
            N = 1 << 18  # longer than the signal plus the stored frames on both sides
        X = np.fft.rfft(x[0], N)
        freqs = np.arange(N // 2 + 1) * SR / N
        checked = 0
        for name, ds in f.items():
            kind, hop, first = ds.attrs["kind"], int(ds.attrs["hop"]), int(ds.attrs["first_frame"])
            at = ((first + np.arange(ds.shape[2])) * hop) % N  # sample of each frame
            stored = ds[0]
            if kind == "octave":
                j = int(name.split("_")[1])
                rows = [0, 5, B - 1]
            else:
                rows = [0]
            for b in rows:
                if kind == "octave":
                    fk = fmin * 2 ** (j + b / B)
                    assert ds.attrs["frequencies"][b] == pytest.approx(fk, rel=1e-13)
                    Z = np.zeros(N, complex)
                    g = _window("octave", freqs[1:N // 2], fk, B, window)
                    Z[1:N // 2] = 2 * X[1:N // 2] * g
                    want = np.fft.ifft(Z)[at]
                else:
                    ref = fmin if kind == "lowpass" else fmax
                    want = np.fft.irfft(X * _window(kind, freqs, ref, B, window), N)[at]
                scale = np.abs(want).max()
                tol = 1e-12 if mode == "periodic" else 1e-6
                np.testing.assert_allclose(stored[b], want, rtol=0, atol=tol * scale,
                                           err_msg=f"{name} bin {b}")
                checked += 1
        assert checked == 3 * J + 2


def test_sine_calibration_phase_and_sharing(tmp_path):
    """|c| = A at a centre, absolute phase, and the bump's |c_k|^2 + |c_k+1|^2 = A^2."""
    t = MSFT(SR, fmin=200.0, mode="periodic")
    n = 3 * 16384
    N = t.period(n)
    assert N == n
    j, b = 3, 4
    fk = t.frequencies[j][b]
    m_mid = int(round(fk * 2 ** (1 / 24) * N / SR))  # an FFT bin between centres b, b+1
    f_mid = m_mid * SR / N
    assert fk < f_mid < t.frequencies[j][b + 1]
    time = np.arange(n) / SR
    phi = 0.7
    x = np.stack([0.5 * np.cos(2 * np.pi * fk * time + phi),
                  0.8 * np.cos(2 * np.pi * f_mid * time)])
    path = save(t.forward(x), tmp_path / "s.h5", dtype="complex128")
    with load(path) as box:
        c = box.octaves[j][...]
        ft = box.frame_times(j)
    mid = (ft > 0.3) & (ft < 0.8)  # clear of the circular wrap at the period's edge
    expected = 0.5 * np.exp(1j * (2 * np.pi * fk * ft[mid] + phi))
    np.testing.assert_allclose(c[0, b, mid], expected, atol=2e-3)
    shared = np.abs(c[1, b, mid]) ** 2 + np.abs(c[1, b + 1, mid]) ** 2
    np.testing.assert_allclose(shared, 0.8 ** 2, rtol=1e-9)


def _resynthesize(f, N, n):
    """The Resynthesis formula of FORMAT.md with numpy alone: channel 0, samples 0 .. n - 1."""
    a = f.attrs
    B, J, fmin = int(a["bins_per_octave"]), int(a["n_octaves"]), float(a["fmin"])
    fmax = fmin * 2 ** (J - 1 / B)
    window = a["window"]
    freqs = np.arange(N // 2 + 1) * SR / N
    m = np.arange(N // 2 + 1)
    total = np.zeros(N // 2 + 1, complex)
    S = np.zeros(N // 2 + 1)
    for name, ds in f.items():
        kind, h, first = ds.attrs["kind"], int(ds.attrs["hop"]), int(ds.attrs["first_frame"])
        M = N // h
        assert N % h == 0 and M >= ds.shape[2]
        frames = np.zeros((ds.shape[1], M), complex)
        frames[:, (first + np.arange(ds.shape[2])) % M] = ds[0]
        C = np.fft.fft(frames, axis=1)
        for b in range(ds.shape[1]):
            if kind == "octave":
                g = _window("octave", freqs, ds.attrs["frequencies"][b], B, window)
                g[0] = g[-1] = 0.0
                total += h / 2 * g * C[b, m % M]
            else:
                g = _window(kind, freqs, fmin if kind == "lowpass" else fmax, B, window)
                total += h * g * C[b, m % M]
            S += g ** 2
    return np.fft.irfft(total / S, N)[:n]


def _zero_mode_length(f):
    """The smallest N the Resynthesis section allows in "zero" mode."""
    big = max(int(ds.attrs["hop"]) for ds in f.values())
    need = max([ds.shape[2] * int(ds.attrs["hop"]) for ds in f.values()]
               + [int(f.attrs["n_samples"]) + 2 * max(int(ds.attrs["extent"])
                                                      for ds in f.values())])
    return -(-need // big) * big


@pytest.mark.parametrize("mode", ["zero", "periodic"])
def test_resynthesis_as_the_document_says(mode, snr, tmp_path):
    """The Resynthesis formula, with numpy alone, gives the signal back."""
    n = 15000
    x = np.random.default_rng(8).standard_normal(n)
    path = save(MSFT(SR, fmin=200.0, mode=mode).forward(x), tmp_path / "x.h5",
                dtype="complex128")
    with h5py.File(path, "r") as f:
        N = int(f.attrs["period"]) if mode == "periodic" else _zero_mode_length(f)
        y = _resynthesize(f, N, n)
    assert snr(x, y) > 250


def test_frames_as_msft_stores_them(container, periodic_container):
    """Modes: the stored frames follow from `extent` ("zero") or `period` ("periodic")."""
    with h5py.File(container, "r") as f:
        n = int(f.attrs["n_samples"])
        for name, ds in f.items():
            hop, extent = int(ds.attrs["hop"]), int(ds.attrs["extent"])
            first = int(ds.attrs["first_frame"])
            assert isinstance(ds.attrs["extent"], np.integer) and extent > 0
            assert first == -int(np.ceil(extent / hop)), name
            assert first + ds.shape[2] - 1 == (n - 1 + extent) // hop, name
            assert ds.attrs["first_frame_time"] == first * hop / SR
    with h5py.File(periodic_container, "r") as f:
        period = int(f.attrs["period"])
        for name, ds in f.items():
            assert int(ds.attrs["first_frame"]) == 0
            assert ds.shape[2] * int(ds.attrs["hop"]) == period
            assert int(ds.attrs["extent"]) > 0


def _cut_down(src, dst, beyond):
    """A copy of a "zero"-mode container holding only the frames within the signal and
    ``beyond`` on each side, with first_frame adjusted (see Stored frames)."""
    dst.write_bytes(src.read_bytes())
    with h5py.File(dst, "r+") as f:
        n = int(f.attrs["n_samples"])
        for name in list(f):
            ds = f[name]
            hop, first = int(ds.attrs["hop"]), int(ds.attrs["first_frame"])
            lo, hi = -beyond, (n - 1) // hop + 1 + beyond
            data, attrs = ds[:, :, lo - first:hi - first], dict(ds.attrs)
            del f[name]
            f.create_dataset(name, data=data, chunks=True, fletcher32=True)
            f[name].attrs.update({**attrs, "first_frame": lo,
                                  "first_frame_time": lo * hop / SR})
    return dst


def test_a_cut_down_file_resynthesizes_as_the_document_says(snr, tmp_path):
    """Stored frames: frames not stored count as zero, in the formula and in msft alike;
    the interior of the signal stays accurate."""
    n = 15000
    x = np.random.default_rng(8).standard_normal(n)
    full = save(MSFT(SR, fmin=200.0).forward(x), tmp_path / "x.h5", dtype="complex128")
    path = _cut_down(full, tmp_path / "cut.h5", 3)
    with load(path) as box:
        assert [first for first, _ in box.ranges] == [-3] * (box.n_octaves + 2)
        got = box.to_audio()[0]
    with h5py.File(path, "r") as f:
        y = _resynthesize(f, _zero_mode_length(f), n)
    np.testing.assert_allclose(got, y, rtol=0, atol=1e-12 * np.abs(x).max())
    middle = slice(n // 4, 3 * n // 4)
    assert snr(x[middle], y[middle]) > 60
    assert snr(x, y) < snr(x[middle], y[middle])


def test_a_periodic_file_must_hold_its_whole_period(periodic_container, tmp_path):
    path = tmp_path / "cut.h5"
    path.write_bytes(periodic_container.read_bytes())
    with h5py.File(path, "r+") as f:
        data, attrs = f["octave_2"][:, :, 1:], dict(f["octave_2"].attrs)
        del f["octave_2"]
        f["octave_2"] = data
        f["octave_2"].attrs.update({**attrs, "first_frame": 1})
    with pytest.raises(msft_cli.ContainerError, match="does not hold every frame of its period"):
        load(path)


def test_image_as_the_document_says(container):
    """The Python API's image(): centred cells, nearest coarser frame, finest pooled."""
    start, end, hop = 0.7, 1.3, 128
    with load(container) as box, h5py.File(container, "r") as f:
        img, times, _ = box.image(start, end, hop=hop, db=False)
        cells = np.arange(int(np.floor(start * SR / hop)), int(np.ceil(end * SR / hop)))
        np.testing.assert_array_equal(times, cells * hop / SR)
        row = 0
        for j in range(int(f.attrs["n_octaves"])):
            ds = f[f"octave_{j}"]
            h, first = int(ds.attrs["hop"]), int(ds.attrs["first_frame"])
            mag = np.abs(ds[...]).max(axis=0)  # "mix"
            for i, m in enumerate(cells):
                if h >= hop:
                    r = h // hop
                    want = mag[:, (m + r // 2) // r - first]
                else:
                    r = hop // h
                    lo = m * r - r // 2 - first
                    want = mag[:, lo:lo + r].max(axis=1)
                np.testing.assert_array_equal(img[row:row + ds.shape[1], i], want)
            row += ds.shape[1]
