"""Tests of the ``msft`` command line: round trips, options, and every bad input.

Most runs pass ``--fmin 200`` so that the blocks (whose margins follow the
lowest band's filter length) stay small; a couple use the defaults.
"""

import inspect
import os
import re
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from msft_cli import MSFT, __version__, convert
from msft_cli.cli import main

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "sample_audio"
SR = 44100
FAST = ("--fmin", "200")
SNR_LINE = re.compile(r"SNR (-?[\d.]+|inf) dB against ")


# -- helpers -----------------------------------------------------------------------------

def _noise(n, channels, seed=0, amp=0.3):
    x = amp * np.random.default_rng(seed).standard_normal((n, channels))
    return np.clip(x, -0.99, 0.99)


def write_clip(path, n=11025, channels=2, subtype="PCM_16", seed=0, sr=SR, **kw):
    """Write noise to ``path``; return what soundfile reads back, (channels, samples)."""
    sf.write(str(path), _noise(n, channels, seed), sr, subtype=subtype, **kw)
    return sf.read(str(path), dtype="float64", always_2d=True)[0].T


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def errors_of(result):
    """What went to stderr (or the mixed output, for click versions that mix it)."""
    try:
        return result.stderr
    except ValueError:
        return result.output


def ok(result):
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def snr_of(output):
    found = SNR_LINE.search(output)
    assert found, output
    return float(found.group(1))


def listing(folder):
    """Every file and folder under ``folder``, hidden ones included."""
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*"))


def assert_error(result, expected):
    """Exit status 1, one line ``Error: ...`` equal to (or matching) ``expected``, no traceback."""
    assert result.exit_code == 1, result.output + repr(result.exception)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in errors_of(result).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    if isinstance(expected, re.Pattern):
        assert expected.fullmatch(lines[0]), lines[0]
    else:
        assert lines[0] == expected


def audio_snr(x, y):
    return 20 * np.log10(np.linalg.norm(x) / np.linalg.norm(x - y))


@contextmanager
def unwritable(folder):
    """A folder nobody may write into, for root too; yields its path.

    ``folder`` is created and made immutable (``chattr +i``) when running as
    root, or read-only (mode 0555) otherwise. If root cannot use chattr (a
    container without CAP_LINUX_IMMUTABLE), ``/sys`` stands in, when unwritable.
    """
    folder.mkdir()
    undo = None
    if os.geteuid() != 0:
        folder.chmod(0o555)
        undo = lambda: folder.chmod(0o755)  # noqa: E731
    elif shutil.which("chattr") and subprocess.run(["chattr", "+i", str(folder)],
                                                   capture_output=True).returncode == 0:
        undo = lambda: subprocess.run(["chattr", "-i", str(folder)], check=True)  # noqa: E731
    else:
        folder = Path("/sys")
    try:
        try:
            probe = tempfile.NamedTemporaryFile(dir=folder)
        except OSError:
            pass
        else:
            probe.close()
            pytest.skip(f"could not make a folder unwritable here ({folder} is writable)")
        yield folder
    finally:
        if undo is not None:
            undo()


@pytest.fixture(scope="module", autouse=True)
def _cache_dir(tmp_path_factory):
    """An FFTW wisdom folder of our own, unless conftest already provides one."""
    if os.environ.get("MSFT_CACHE_DIR"):
        yield
        return
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MSFT_CACHE_DIR", str(tmp_path_factory.mktemp("msft-cache-cli")))
        yield


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A stereo PCM_16 clip of 0.25 s and its container (fmin 200 Hz), made once."""
    folder = tmp_path_factory.mktemp("made")
    data = write_clip(folder / "clip.wav")
    ok(run("analyze", folder / "clip.wav", "-o", folder / "clip.h5", "-q", *FAST))
    return folder / "clip.wav", folder / "clip.h5", data


@pytest.fixture
def here(tmp_path, monkeypatch, made):
    """Work in ``tmp_path`` holding copies of ``clip.wav`` and ``clip.h5``."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(made[0], tmp_path / "clip.wav")
    shutil.copy(made[1], tmp_path / "clip.h5")
    return tmp_path


# -- version and help --------------------------------------------------------------------

def test_version():
    result = ok(run("--version"))
    assert result.output == f"msft, version {__version__}\n"


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_group_help(flag):
    result = ok(run(flag))
    assert result.output.startswith("Usage: ")
    for name in ("analyze", "resynth", "info"):
        assert re.search(rf"^\s+{name}\s", result.output, re.MULTILINE), name
    assert "Example" in result.output


@pytest.mark.parametrize("command", sorted(main.commands))
def test_command_help(command):
    result = ok(run(command, "--help"))
    assert result.output.startswith("Usage: ")
    assert "Example" in result.output
    assert f"msft {command} " in result.output  # the example uses the command itself


def _parsed(command, *args):
    """The values a command's function receives for ``args`` (defaults filled in)."""
    cmd = main.commands[command]
    with cmd.make_context(command, list(args)) as ctx:
        return ctx.params


def test_cli_defaults_are_the_library_defaults():
    library = {k: p.default for k, p in inspect.signature(MSFT.__init__).parameters.items()
               if p.default is not inspect.Parameter.empty}
    library.update({k: p.default for k, p in inspect.signature(convert.analyze).parameters.items()
                    if k in ("output", "dtype", "compression")})
    given = _parsed("analyze", "x.wav")
    flags = {p.name: p.opts for p in main.commands["analyze"].params}
    for name, default in library.items():
        assert name in given, f"analyze has no option for {name}"
        assert given[name] == default, name
        assert f"--{name.replace('_', '-')}" in flags[name], name
    given = _parsed("resynth", "x.h5")
    for name, p in inspect.signature(convert.resynth).parameters.items():
        if name in ("output", "subtype", "reference"):
            assert given[name] == p.default, name


# -- round trips -------------------------------------------------------------------------

@pytest.mark.parametrize("channels", [1, 2])
def test_analyze_info_resynth(tmp_path, monkeypatch, channels):
    monkeypatch.chdir(tmp_path)
    data = write_clip(tmp_path / "clip.wav", channels=channels)
    result = ok(run("analyze", "clip.wav", "-o", "clip.h5", *FAST))
    assert re.fullmatch(r"clip\.wav -> clip\.h5: 0\.25 s in \d+\.\d\d s \([\d.]+x realtime\), "
                        r"\d+\.\d (KiB|MiB)\n", result.output), result.output

    result = ok(run("info", "clip.h5"))
    s = "s" if channels > 1 else ""
    for part in ("clip.h5\n", "  source      clip.wav (WAV, PCM_16)\n",
                 f"  duration    0.250 s (11025 samples at 44100 Hz), {channels} channel{s}\n",
                 "fmin 200.000 Hz, 12 bins/octave, 6 octaves", "complex64", " on disk, ",
                 "format msft v1",
                 f"msft {__version__}"):
        assert part in result.output, part
    for band in ["lowpass", "highpass"] + [f"octave_{j}" for j in range(6)]:
        assert re.search(rf"^  {band}\s+\d+\s+\d+\s+\d+", result.output, re.MULTILINE), band

    result = ok(run("resynth", "clip.h5", "-o", "back.wav", "--reference", "clip.wav"))
    assert result.output.startswith("clip.h5 -> back.wav: 0.25 s in ")
    assert result.output.endswith(" dB against clip.wav\n")
    assert snr_of(result.output) >= 135
    i = sf.info("back.wav")
    assert (i.samplerate, i.channels, i.frames, i.subtype, i.format) == \
        (SR, channels, 11025, "PCM_16", "WAV")
    back = sf.read("back.wav", dtype="float64", always_2d=True)[0].T
    assert np.max(np.abs(back - data)) <= 1 / 32768
    assert listing(tmp_path) == ["back.wav", "clip.h5", "clip.wav"]


def test_resynth_subtype_float(here):
    result = ok(run("resynth", "clip.h5", "-o", "back.wav", "--subtype", "FLOAT", "-q"))
    assert result.output == ""
    assert sf.info("back.wav").subtype == "FLOAT"
    back = sf.read("back.wav", dtype="float64", always_2d=True)[0].T
    assert audio_snr(sf.read("clip.wav", always_2d=True)[0].T, back) >= 135


def test_default_output_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_clip(tmp_path / "song.wav", 4410, 1)
    original = (tmp_path / "song.wav").read_bytes()
    result = ok(run("analyze", "song.wav", *FAST))
    assert result.output.startswith("song.wav -> song.h5: ")
    result = ok(run("resynth", "song.h5"))
    assert result.output.startswith("song.h5 -> song.resynth.wav: ")
    assert (tmp_path / "song.wav").read_bytes() == original
    assert listing(tmp_path) == ["song.h5", "song.resynth.wav", "song.wav"]
    assert sf.info("song.resynth.wav").frames == 4410


def test_default_output_in_the_inputs_folder(tmp_path, monkeypatch):
    (tmp_path / "in").mkdir()
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    write_clip(tmp_path / "in" / "a.flac", 4410, 1)
    ok(run("analyze", "../in/a.flac", "-q", *FAST))
    ok(run("resynth", "../in/a.h5", "-q"))
    assert listing(tmp_path / "in") == ["a.flac", "a.h5", "a.resynth.wav"]
    assert listing(tmp_path / "work") == []


def test_analyze_standard_input(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    data = write_clip(tmp_path / "clip.wav", 8000, 2)
    result = ok(run("analyze", "-", "-o", "piped.h5", *FAST,
                    input=(tmp_path / "clip.wav").read_bytes()))
    assert result.output.startswith("- -> piped.h5: ")
    assert listing(scratch) == []  # the copy of standard input is gone
    with h5py.File("piped.h5", "r") as f:
        assert f.attrs["source_name"] == "<stdin>"
        assert (f.attrs["n_samples"], f.attrs["n_channels"]) == (8000, 2)
    result = ok(run("resynth", "piped.h5", "-o", "back.wav", "--reference", "clip.wav"))
    assert snr_of(result.output) >= 135
    back = sf.read("back.wav", dtype="float64", always_2d=True)[0].T
    assert np.max(np.abs(back - data)) <= 1 / 32768


def test_analyze_standard_input_needs_output(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_clip(tmp_path / "clip.wav", 1000, 1)
    result = run("analyze", "-", *FAST, input=(tmp_path / "clip.wav").read_bytes())
    assert_error(result, "Error: output is required when reading standard input")
    assert listing(tmp_path) == ["clip.wav"]


def test_dtype_complex128(here):
    ok(run("analyze", "clip.wav", "-o", "c128.h5", "--dtype", "complex128", "-q", *FAST))
    with h5py.File("clip.h5", "r") as f:
        assert f["octave_0"].dtype == np.complex64
        assert f["lowpass"].dtype == np.float32
    with h5py.File("c128.h5", "r") as f:
        assert all(f[f"octave_{j}"].dtype == np.complex128 for j in range(6))
        assert f["lowpass"].dtype == f["highpass"].dtype == np.float64
    assert "complex128" in ok(run("info", "c128.h5")).output
    snr64 = snr_of(ok(run("resynth", "clip.h5", "-o", "a.wav", "--reference",
                          "clip.wav")).output)
    snr128 = snr_of(ok(run("resynth", "c128.h5", "-o", "b.wav", "--reference",
                           "clip.wav")).output)
    assert snr64 >= 135
    assert snr128 > snr64 + 20


@pytest.mark.parametrize("compression", ["gzip", "lzf"])
def test_compression(here, compression):
    ok(run("analyze", "clip.wav", "-o", "z.h5", "--compression", compression, "-q", *FAST))
    with h5py.File("z.h5", "r") as f:
        assert f["octave_3"].compression == compression
        assert f["octave_3"].fletcher32
    with h5py.File("clip.h5", "r") as f:
        assert f["octave_3"].compression is None
    ok(run("info", "z.h5"))
    result = ok(run("resynth", "z.h5", "-o", "z.wav", "--reference", "clip.wav"))
    assert snr_of(result.output) >= 135


def test_transform_options_reach_the_container(here):
    ok(run("analyze", "clip.wav", "-o", "t.h5", "-b", "24", "--fmin", "110", "--n-octaves", "4",
           "--tuning", "432", "-q"))
    out = ok(run("info", "t.h5")).output
    assert "fmin 110.000 Hz, 24 bins/octave, 4 octaves" in out
    assert "tuning 432 Hz" in out
    with h5py.File("t.h5", "r") as f:
        assert f.attrs["bins_per_octave"] == 24
        assert f.attrs["fmin"] == 110.0
        assert f.attrs["n_octaves"] == 4
        assert f.attrs["tuning"] == 432.0
        assert f["octave_0"].shape[:2] == (2, 24)
        assert "octave_4" not in f
    result = ok(run("resynth", "t.h5", "-o", "t.wav", "--reference", "clip.wav"))
    assert snr_of(result.output) >= 135


def test_fmax_window_and_mode_reach_the_container(here):
    ok(run("analyze", "clip.wav", "-o", "w.h5", "--fmin", "2000", "--fmax", "9000",
           "--window", "hann", "-q"))
    ok(run("analyze", "clip.wav", "-o", "p.h5", "--mode", "periodic", "-q", *FAST))
    with h5py.File("w.h5", "r") as f:
        assert (f.attrs["fmin"], f.attrs["n_octaves"], f.attrs["window"]) == (2000.0, 3, "hann")
    with h5py.File("p.h5", "r") as f:
        assert f.attrs["mode"] == "periodic"
    for name in ("w", "p"):
        result = ok(run("resynth", f"{name}.h5", "-o", f"{name}.wav", "--reference", "clip.wav"))
        assert snr_of(result.output) >= 135


def test_fmin_at_half_nyquist_gives_one_octave(here):
    ok(run("analyze", "clip.wav", "-o", "top.h5", "--fmin", "11025", "-q"))
    assert "fmin 11025.000 Hz, 12 bins/octave, 1 octaves" in ok(run("info", "top.h5")).output


def test_quiet(here):
    assert ok(run("analyze", "clip.wav", "-o", "q.h5", "-q", *FAST)).output == ""
    assert ok(run("resynth", "q.h5", "-o", "q.wav", "--quiet")).output == ""
    assert Path("q.h5").is_file() and Path("q.wav").is_file()
    # the SNR asked for with --reference is printed even then
    result = ok(run("resynth", "q.h5", "-o", "r.wav", "-q", "--reference", "clip.wav"))
    assert len(result.output.splitlines()) == 1 and snr_of(result.output) >= 135


@pytest.mark.parametrize("name, subtype, expected_back", [
    ("clip.flac", "PCM_16", "PCM_16"),
    ("clip.ogg", "VORBIS", "PCM_16"),    # VORBIS does not fit WAV: WAV's default
    ("clip.aiff", "PCM_24", "PCM_24"),
])
@pytest.mark.parametrize("channels", [1, 2])
def test_formats(tmp_path, monkeypatch, name, subtype, expected_back, channels):
    monkeypatch.chdir(tmp_path)
    write_clip(tmp_path / name, 8820, channels, subtype)
    ok(run("analyze", name, "-o", "x.h5", "-q", *FAST))
    assert f"({sf.info(name).format}, {subtype})" in ok(run("info", "x.h5")).output
    result = ok(run("resynth", "x.h5", "--reference", name))
    assert snr_of(result.output) >= 135
    i = sf.info("x.resynth.wav")
    assert (i.samplerate, i.channels, i.frames, i.subtype) == (SR, channels, 8820, expected_back)


@pytest.mark.skipif("MP3" not in sf.available_formats(), reason="libsndfile without MP3")
def test_mp3_source_resynthesizes_to_wav_by_default(tmp_path, monkeypatch):
    """A codec's subtype is not inherited: the output format's default is used."""
    monkeypatch.chdir(tmp_path)
    write_clip(tmp_path / "clip.mp3", 8820, 2, "MPEG_LAYER_III")
    ok(run("analyze", "clip.mp3", "-o", "x.h5", "-q", *FAST))
    result = run("resynth", "x.h5", "--reference", "clip.mp3")
    assert result.exit_code == 0, result.output
    assert snr_of(result.output) >= 135
    assert sf.info("x.resynth.wav").subtype == "PCM_16"


def test_sample_clip_with_default_parameters(tmp_path, monkeypatch):
    """The one full-size run: a real clip, default transform, through the container."""
    monkeypatch.chdir(tmp_path)
    clip = SAMPLES / "house_beat.wav"
    ok(run("analyze", clip, "-o", "house.h5"))
    out = ok(run("info", "house.h5")).output
    assert "fmin 20.602 Hz, 12 bins/octave, 10 octaves" in out
    assert "window bump, tuning 440 Hz, mode zero" in out
    result = ok(run("resynth", "house.h5", "--reference", clip))
    assert snr_of(result.output) >= 135
    a, b = sf.info(str(clip)), sf.info("house.resynth.wav")
    assert (b.samplerate, b.channels, b.frames, b.subtype) == \
        (a.samplerate, a.channels, a.frames, a.subtype)


# -- bad input: analyze -----------------------------------------------------------------

def _missing(d):
    return ["missing.wav"], "Error: missing.wav: no such file"


def _folder(d):
    (d / "adir").mkdir()
    return ["adir"], "Error: adir: is a folder, not an audio file"


def _text(d):
    (d / "text.wav").write_text("this is a text file, not audio\n" * 20)
    return ["text.wav"], re.compile(r"Error: text\.wav: not a readable audio file \(.+\)")


def _truncated(d):
    raw = (d / "clip.wav").read_bytes()
    (d / "cut.wav").write_bytes(raw[:len(raw) // 2])
    return ["cut.wav"], (f"Error: cut.wav: truncated: the header announces {11025 * 4} bytes "
                         f"of audio data, the file holds {len(raw) // 2 - 44}")


def _garbage_header(d):
    raw = bytearray((d / "clip.wav").read_bytes())
    raw[:64] = np.random.default_rng(1).integers(0, 256, 64, dtype=np.uint8).tobytes()
    (d / "bad.wav").write_bytes(bytes(raw))
    return ["bad.wav"], re.compile(r"Error: bad\.wav: not a readable audio file \(.+\)")


def _empty(d):
    sf.write(str(d / "empty.wav"), np.zeros((0, 2)), SR)
    return ["empty.wav"], "Error: empty.wav: has no samples"


def _nan(d):
    x = _noise(4410, 2)
    x[1000, 1] = np.nan
    sf.write(str(d / "nan.wav"), x, SR, subtype="FLOAT")
    return ["nan.wav"], "Error: nan.wav: holds NaN or Inf samples (first at sample 1000, 0.023 s)"


def _inf(d):
    x = _noise(4410, 1)
    x[2205, 0] = np.inf
    sf.write(str(d / "inf.wav"), x, SR, subtype="FLOAT")
    return ["inf.wav"], "Error: inf.wav: holds NaN or Inf samples (first at sample 2205, 0.050 s)"


def _fmin(value, message):
    def case(d):
        return ["clip.wav", "--fmin", value], f"Error: clip.wav: {message}"
    return case


_NYQUIST = ("Hz leaves no whole octave below the Nyquist frequency (22050 Hz at sr=44100): "
            "must be at most 11025 Hz")


def _bins(value):
    def case(d):
        return (["clip.wav", "-b", value, *FAST],
                f"Error: clip.wav: bins_per_octave={value} is out of range: must be between 1 "
                "and 64")
    return case


def _octaves_and_fmax(d):
    return (["clip.wav", "--n-octaves", "2", "--fmax", "1000", *FAST],
            "Error: clip.wav: give n_octaves or fmax, not both")


def _too_many_octaves(d):
    return (["clip.wav", "--n-octaves", "7", *FAST],
            "Error: clip.wav: n_octaves=7 does not fit: must be between 1 and 6 for fmin=200 Hz "
            "at sr=44100")


def _missing_folder(d):
    return (["clip.wav", "-o", "nodir/x.h5", *FAST],
            "Error: nodir/x.h5: the folder nodir does not exist")


ANALYZE_CASES = {
    "missing": _missing, "folder": _folder, "text": _text, "truncated": _truncated,
    "garbage-header": _garbage_header, "empty": _empty, "nan": _nan, "inf": _inf,
    "fmin-0": _fmin("0", "fmin=0 must be a positive frequency in Hz"),
    "fmin-negative": _fmin("-5", "fmin=-5 must be a positive frequency in Hz"),
    "fmin-nyquist": _fmin("22050", f"fmin=22050 {_NYQUIST}"),
    "fmin-above-nyquist": _fmin("30000", f"fmin=30000 {_NYQUIST}"),
    "fmin-no-whole-octave": _fmin("11026", f"fmin=11026 {_NYQUIST}"),
    "fmin-nan": _fmin("nan", "fmin=nan must be a positive frequency in Hz"),
    "bins-0": _bins("0"), "bins-huge": _bins("100000"),
    "octaves-and-fmax": _octaves_and_fmax, "too-many-octaves": _too_many_octaves,
    "missing-folder": _missing_folder,
}


@pytest.mark.parametrize("case", ANALYZE_CASES.values(), ids=ANALYZE_CASES.keys())
def test_analyze_bad_input(here, case):
    args, expected = case(here)
    before = listing(here)
    assert_error(run("analyze", *args), expected)
    assert listing(here) == before  # no container, no temporary file


def test_analyze_nan_late_leaves_no_half_written_container(tmp_path, monkeypatch):
    """A NaN in the third block: the container was partly written, and must vanish."""
    monkeypatch.chdir(tmp_path)
    step = MSFT(SR, fmin=1000.0).block_size
    x = _noise(int(2.5 * step), 1)
    x[-100, 0] = np.nan
    sf.write("late.wav", x, SR, subtype="FLOAT")
    from msft_cli.io import container
    seen = []
    write = container.Writer.write

    def spy(self, *args):
        seen.append(any(p.name.startswith(".late.h5.") and p.name.endswith(".part")
                        for p in tmp_path.iterdir()))
        return write(self, *args)

    monkeypatch.setattr(container.Writer, "write", spy)
    result = run("analyze", "late.wav", "--fmin", "1000")
    assert_error(result, f"Error: late.wav: holds NaN or Inf samples (first at sample "
                         f"{len(x) - 100}, {(len(x) - 100) / SR:.3f} s)")
    assert seen and all(seen)  # frames had gone to a temporary file
    assert listing(tmp_path) == ["late.wav"]


def test_failed_analyze_keeps_an_existing_container(here):
    """Atomic replacement: a failing run leaves the previous container intact."""
    _nan(here)
    good = Path("clip.h5").read_bytes()
    assert_error(run("analyze", "nan.wav", "-o", "clip.h5", *FAST),
                 "Error: nan.wav: holds NaN or Inf samples (first at sample 1000, 0.023 s)")
    assert Path("clip.h5").read_bytes() == good
    assert not [p for p in listing(here) if p.endswith(".part")]


def test_failed_resynth_keeps_an_existing_audio_file(here):
    _corrupt_middle(here)
    Path("out.wav").write_bytes(b"an earlier result")
    assert run("resynth", "corrupt.h5", "-o", "out.wav").exit_code == 1
    assert Path("out.wav").read_bytes() == b"an earlier result"
    assert not [p for p in listing(here) if p.endswith(".part")]


def test_analyze_output_in_unwritable_folder(here):
    with unwritable(here / "ro") as ro:
        target = os.path.relpath(ro / "x.h5", here)  # ro/x.h5 unless /sys stands in
        before = os.listdir(ro)
        result = run("analyze", "clip.wav", "-o", target, *FAST)
        assert_error(result, re.compile(rf"Error: {re.escape(target)}: cannot write "
                                        r"\((Operation not permitted|Permission denied)\)"))
        assert os.listdir(ro) == before
    assert listing(here) == ["clip.h5", "clip.wav", "ro"]


@pytest.mark.parametrize("args, fragment", [
    (["analyze", "clip.wav", "--bogus"], "--bogus"),
    (["analyze"], "Missing argument"),
    (["analyze", "clip.wav", "--fmin", "low"], "--fmin"),
    (["analyze", "clip.wav", "-b", "1.5"], "-b"),
    (["analyze", "clip.wav", "--dtype", "complex256"], "complex256"),
    (["analyze", "clip.wav", "--compression", "zip"], "zip"),
    (["analyze", "clip.wav", "-o", "adir"], "adir"),  # a folder as the output
    (["resynth"], "Missing argument"),
    (["resynth", "clip.h5", "--bogus"], "--bogus"),
    (["info"], "Missing argument"),
    (["transmogrify"], "transmogrify"),
])
def test_usage_errors(here, args, fragment):
    (here / "adir").mkdir()
    before = listing(here)
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    errors = [line for line in errors_of(result).splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and fragment in errors[0], result.output
    assert listing(here) == before


# -- bad input: resynth and info --------------------------------------------------------

def _corrupt_middle(d):
    raw = bytearray((d / "clip.h5").read_bytes())
    mid = len(raw) // 2
    raw[mid:mid + 4096] = b"\xab" * 4096
    (d / "corrupt.h5").write_bytes(bytes(raw))
    return ["corrupt.h5"], re.compile(
        r"Error: corrupt\.h5: (cannot read /\w+ \(corrupt data: .+\)"
        r"|incomplete or corrupt container \(.+\))")


def _truncated_h5(d):
    raw = (d / "clip.h5").read_bytes()
    (d / "cut.h5").write_bytes(raw[:len(raw) // 2])
    return ["cut.h5"], "Error: cut.h5: not an HDF5 file (corrupt or another format)"


def _foreign(d):
    with h5py.File(d / "foreign.h5", "w") as f:
        f["data"] = np.arange(10.0)
        f.attrs["creator"] = "someone else"
    return ["foreign.h5"], "Error: foreign.h5: not an msft container (no format attribute)"


def _other_format(d):
    with h5py.File(d / "other.h5", "w") as f:
        f.attrs["format"] = "nwb"
    return ["other.h5"], ("Error: other.h5: not an msft container (format attribute is 'nwb', "
                          "expected 'msft')")


def _newer(d):
    shutil.copy(d / "clip.h5", d / "v99.h5")
    with h5py.File(d / "v99.h5", "a") as f:
        f.attrs["format_version"] = 99
    return ["v99.h5"], ("Error: v99.h5: format version 99 is newer than this msft reads (1): "
                        "upgrade msft")


def _wav(d):
    return ["clip.wav"], "Error: clip.wav: not an HDF5 file (corrupt or another format)"


def _missing_h5(d):
    return ["missing.h5"], "Error: missing.h5: no such file"


def _folder_h5(d):
    (d / "adir.h5").mkdir()
    return ["adir.h5"], "Error: adir.h5: is a folder, not a container"


CONTAINER_CASES = {
    "corrupt": _corrupt_middle, "truncated": _truncated_h5, "foreign": _foreign,
    "other-format": _other_format, "newer-version": _newer, "wav": _wav,
    "missing": _missing_h5, "folder": _folder_h5,
}


@pytest.mark.parametrize("case", CONTAINER_CASES.values(), ids=CONTAINER_CASES.keys())
def test_resynth_bad_container(here, case):
    args, expected = case(here)
    before = listing(here)
    assert_error(run("resynth", *args), expected)
    assert_error(run("resynth", *args, "-o", "out.wav", "--reference", "clip.wav"), expected)
    assert listing(here) == before  # no audio written, no temporary file


@pytest.mark.parametrize("case", [c for k, c in CONTAINER_CASES.items() if k != "corrupt"],
                         ids=[k for k in CONTAINER_CASES if k != "corrupt"])
def test_info_bad_container(here, case):
    args, expected = case(here)
    assert_error(run("info", *args), expected)


def _output_cases():
    return {
        "missing-folder": (["-o", "nodir/x.wav"],
                           "Error: nodir/x.wav: the folder nodir does not exist"),
        "unknown-extension": (["-o", "out.xyz"],
                              "Error: out.xyz: unknown audio extension .xyz: use one of .aif, "
                              ".aifc, .aiff, .au, .caf, .flac, .mp3, .ogg, .rf64, .w64, .wav"),
        "bad-subtype": (["-o", "out.flac", "--subtype", "FLOAT"],
                        "Error: out.flac: subtype 'FLOAT' is not available for FLAC files"),
        "unknown-subtype": (["-o", "out.wav", "--subtype", "PCM_17"],
                            "Error: out.wav: subtype 'PCM_17' is not available for WAV files"),
        "missing-reference": (["-o", "out.wav", "--reference", "missing.wav"],
                              "Error: missing.wav: no such file"),
    }


@pytest.mark.parametrize("case", _output_cases().values(), ids=_output_cases().keys())
def test_resynth_bad_output(here, case):
    args, expected = case
    before = listing(here)
    assert_error(run("resynth", "clip.h5", *args), expected)
    assert listing(here) == before


def test_resynth_reference_of_another_file(here):
    write_clip(here / "other.wav", 5000, 1)
    before = listing(here)
    result = run("resynth", "clip.h5", "-o", "out.wav", "--reference", "other.wav")
    assert_error(result, "Error: other.wav: has 1 channel(s) x 5000 samples, the container "
                         "2 x 11025: not its original")
    assert listing(here) == before


def test_resynth_output_in_unwritable_folder(here):
    with unwritable(here / "ro") as ro:
        target = os.path.relpath(ro / "x.wav", here)  # ro/x.wav unless /sys stands in
        before = os.listdir(ro)
        result = run("resynth", "clip.h5", "-o", target)
        assert_error(result, re.compile(rf"Error: {re.escape(target)}: cannot write \(.*"
                                        r"(Operation not permitted|Permission denied).*\)"))
        assert os.listdir(ro) == before
    assert listing(here) == ["clip.h5", "clip.wav", "ro"]


@pytest.fixture(scope="module")
def long_box(tmp_path_factory):
    """A mono container spanning five resynthesis blocks (fmin 1000 Hz)."""
    folder = tmp_path_factory.mktemp("long")
    step = MSFT(SR, fmin=1000.0).block_size
    write_clip(folder / "long.wav", int(4.5 * step), 1, "FLOAT", seed=7)
    ok(run("analyze", folder / "long.wav", "-o", folder / "long.h5", "--fmin", "1000", "-q"))
    return folder / "long.h5"


def test_resynth_corrupt_chunk_midway_leaves_no_audio(tmp_path, monkeypatch, long_box):
    """The last chunk of the high-pass band is corrupt: blocks before it were written."""
    monkeypatch.chdir(tmp_path)
    raw = bytearray(long_box.read_bytes())
    with h5py.File(long_box, "r") as f:
        ds = f["highpass"]
        chunks = [ds.id.get_chunk_info(i) for i in range(ds.id.get_num_chunks())]
    last = max(chunks, key=lambda c: c.chunk_offset)
    assert last.chunk_offset[2] > 0  # not the first chunk
    at = last.byte_offset + last.size // 2
    raw[at:at + 64] = bytes(64)
    Path("long.h5").write_bytes(bytes(raw))

    from msft_cli.io import audio
    seen = []
    write = audio.AudioWriter.write

    def spy(self, block):
        seen.append(any(p.name.startswith(".out.wav.") and p.name.endswith(".part")
                        for p in tmp_path.iterdir()))
        return write(self, block)

    monkeypatch.setattr(audio.AudioWriter, "write", spy)
    result = run("resynth", "long.h5", "-o", "out.wav")
    assert_error(result, re.compile(r"Error: long\.h5: cannot read /highpass "
                                    r"\(corrupt data: .+\)"))
    assert seen and all(seen)  # audio had gone to a temporary file
    assert listing(tmp_path) == ["long.h5"]


def _corrupt_root_attribute(d):
    """Damage the datatype message of the root attribute ``sample_rate``."""
    raw = bytearray((d / "clip.h5").read_bytes())
    at = raw.find(b"sample_rate")
    assert at > 0 and raw.count(b"sample_rate") == 1
    at += len(b"sample_rate")
    raw[at:at + 8] = b"\xab" * 8
    (d / "attrs.h5").write_bytes(bytes(raw))
    return ["attrs.h5"], re.compile(r"Error: attrs\.h5: .+")


@pytest.mark.parametrize("command", ["resynth", "info"])
def test_corrupt_root_attributes(here, command):
    args, expected = _corrupt_root_attribute(here)
    before = listing(here)
    assert_error(run(command, *args), expected)
    assert listing(here) == before


@pytest.mark.parametrize("args, victim", [
    (["analyze", "clip.wav", "-o", "clip.wav"], "clip.wav"),
    (["resynth", "x.h5", "-o", "x.h5"], "x.h5"),
    (["resynth", "x.h5", "-o", "clip.wav", "--reference", "clip.wav"], "clip.wav"),
])
def test_an_output_never_replaces_an_input(tmp_path, monkeypatch, args, victim):
    monkeypatch.chdir(tmp_path)
    write_clip(tmp_path / "clip.wav", 4410, 1)
    ok(run("analyze", "clip.wav", "-o", "x.h5", "-q", *FAST))
    before = (tmp_path / victim).read_bytes()
    result = run(*args)
    assert result.exit_code == 1
    assert result.output == f"Error: {args[3]}: is also an input: choose another output name\n"
    assert (tmp_path / victim).read_bytes() == before


# -- as real processes -------------------------------------------------------------------

@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Environment for ``python -m msft_cli``: this checkout first, a private cache."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["MSFT_CACHE_DIR"] = str(tmp_path_factory.mktemp("msft-cache-subprocess"))
    return env


def msft(env, cwd, *args):
    return subprocess.run([sys.executable, "-m", "msft_cli", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_subprocess_round_trip(tmp_path, env):
    write_clip(tmp_path / "clip.wav", 8820, 2)
    done = msft(env, tmp_path, "analyze", "clip.wav", *FAST)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("clip.wav -> clip.h5: ") and done.stderr == ""
    done = msft(env, tmp_path, "info", "clip.h5")
    assert done.returncode == 0, done.stderr
    assert "clip.wav (WAV, PCM_16)" in done.stdout
    done = msft(env, tmp_path, "resynth", "clip.h5", "--reference", "clip.wav")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert snr_of(done.stdout) >= 135
    i = sf.info(str(tmp_path / "clip.resynth.wav"))
    assert (i.samplerate, i.channels, i.frames, i.subtype) == (SR, 2, 8820, "PCM_16")
    assert listing(tmp_path) == ["clip.h5", "clip.resynth.wav", "clip.wav"]


def test_subprocess_version(env, tmp_path):
    done = msft(env, tmp_path, "--version")
    assert (done.returncode, done.stdout) == (0, f"msft, version {__version__}\n")


def test_importing_the_cli_leaves_out_the_heavy_optional_modules(env, tmp_path):
    heavy = ("matplotlib", "scipy", "scipy.sparse", "scipy.fft", "msft_cli.dataset")
    code = ("import sys, msft_cli.cli\n"
            f"print(sorted(m for m in {heavy!r} if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (0, "[]\n", "")


def test_phase_options_are_the_phase_modules():
    from msft_cli import phase
    assert inspect.signature(convert.resynth).parameters["iterations"].default \
        == phase.DEFAULT_ITERATIONS
    option = next(p for p in main.commands["resynth"].params if p.name == "phase_init")
    assert option.type.choices == phase.INITS


def test_lazy_submodules_are_still_attributes():
    import msft_cli
    assert msft_cli.phase.reconstruct is not None
    assert "phase" in dir(msft_cli) and "phase" in msft_cli.__all__
    with pytest.raises(AttributeError, match="no attribute 'nonesuch'"):
        msft_cli.nonesuch  # noqa: B018


@pytest.mark.parametrize("case", [_missing, _nan, _fmin("0", "fmin=0 must be a positive "
                                                               "frequency in Hz"), _truncated],
                         ids=["missing", "nan", "fmin-0", "truncated"])
def test_subprocess_analyze_bad_input(here, env, case):
    args, expected = case(here)
    before = listing(here)
    done = msft(env, here, "analyze", *args)
    assert done.returncode == 1
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.endswith("\n") and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.rstrip("\n") == expected
    assert listing(here) == before


@pytest.mark.parametrize("case", [_foreign, _newer, _corrupt_middle],
                         ids=["foreign", "newer", "corrupt"])
def test_subprocess_resynth_bad_input(here, env, case):
    args, expected = case(here)
    before = listing(here)
    done = msft(env, here, "resynth", *args)
    assert done.returncode == 1
    assert done.stdout == "" and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    line = done.stderr.rstrip("\n")
    assert expected.fullmatch(line) if isinstance(expected, re.Pattern) else line == expected
    assert listing(here) == before


def test_subprocess_usage_error(tmp_path, env):
    done = msft(env, tmp_path, "analyze", "x.wav", "--bogus")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "--bogus" in done.stderr
    assert listing(tmp_path) == []


@pytest.mark.parametrize("factor, text", [(0.0384, "0.038x"), (0.5, "0.5x"), (4.0, "4.0x"),
                                          (4.25, "4.2x"), (42.4, "42x"), (540.0, "540x")])
def test_realtime_factors_never_print_as_zero(factor, text):
    assert convert.format_realtime(factor) == text


def _imported(*args):
    """The heavy packages a real ``python -m msft_cli ARGS`` process imports."""
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "msft_cli", *args],
                         capture_output=True, text=True, check=True).stderr
    names = {line.split("|")[-1].strip() for line in out.splitlines() if "|" in line}
    return names & {"numpy", "scipy", "h5py", "pyfftw", "matplotlib", "soundfile", "torch"}


@pytest.mark.parametrize("args, allowed", [
    (["--version"], set()),
    (["--help"], set()),
    (["view", "--help"], set()),
    (["info", "--help"], {"numpy", "h5py"}),
    (["analyze", "--help"], {"numpy", "h5py", "soundfile"}),
])
def test_commands_import_only_what_they_use(args, allowed):
    """msft --help and --version load click alone; no command loads matplotlib, scipy or
    pyfftw before it draws or transforms."""
    assert _imported(*args) <= allowed


def test_the_command_table_is_the_commands_own():
    """``msft --help`` lists COMMANDS' short helps without importing the commands: each is
    the command's own first docstring line, and every command is there."""
    from msft_cli.cli import COMMANDS
    for name, (_, _, short) in COMMANDS.items():
        assert main.commands[name].get_short_help_str(limit=200) == short, name


@pytest.mark.parametrize("old, name, new", [
    ("msft_cli.transform", "MSFT", "msft_cli.engine.transform"),
    ("msft_cli.transform", "plan_wisdom", "msft_cli.engine.wisdom"),
    ("msft_cli.container", "load", "msft_cli.io.container"),
    ("msft_cli.scales", "BandLayout", "msft_cli.engine.bands"),
    ("msft_cli.audio", "AudioWriter", "msft_cli.io.audio"),
    ("msft_cli.fftw", "Plans", "msft_cli.engine.fftw"),
])
def test_moved_modules_still_work_for_one_release(old, name, new):
    import importlib
    module = importlib.import_module(old)
    with pytest.warns(DeprecationWarning, match=rf"^{old} is deprecated since msft 0\.2\.0: "
                                                rf"import {name} from msft_cli\."):
        value = getattr(module, name)
    assert value is getattr(importlib.import_module(new), name)
