"""Tests of msft_cli.io.audio: block reads, the checks on opening, and atomic writing."""

import io
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from msft_cli.errors import AudioError, MsftError
from msft_cli.io.audio import AudioSource, AudioWriter, info, read, subtype_fits

SR = 44100
N = 1000


def _noise(n, channels, seed=0, amp=0.3):
    x = amp * np.random.default_rng(seed).standard_normal((n, channels))
    return np.clip(x, -0.99, 0.99)


def _write(path, n=N, channels=2, subtype="PCM_16", seed=0, **kw):
    """Write a noise clip and return what soundfile reads back, (samples, channels)."""
    sf.write(str(path), _noise(n, channels, seed), SR, subtype=subtype, **kw)
    return sf.read(str(path), dtype="float64", always_2d=True)[0]


def _listing(folder):
    return sorted(p.name for p in folder.iterdir())


@contextmanager
def _unwritable(folder):
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


# -- AudioSource: attributes and block reads ---------------------------------------------

@pytest.fixture
def stereo(tmp_path):
    path = tmp_path / "clip.wav"
    return path, _write(path)


def test_source_attributes(stereo):
    path, data = stereo
    with AudioSource(path) as src:
        assert (src.sr, src.n_samples, src.channels) == (SR, N, 2)
        assert (src.subtype, src.format) == ("PCM_16", "WAV")
        assert src.name == str(path)
        assert src.duration == N / SR


@pytest.mark.parametrize("start, stop", [
    (-100, 200),        # straddles the start
    (N - 150, N + 100),  # straddles the end
    (-50, N + 50),      # covers the whole file and more
    (0, N),             # exactly the file
    (300, 301),         # one sample
    (-80, -10),         # wholly before
    (N + 5, N + 40),    # wholly after
    (N, N),             # empty
])
def test_read_is_zero_outside_and_exact_inside(stereo, start, stop):
    path, data = stereo
    padded = np.zeros((2, N + 400))
    padded[:, 200:200 + N] = data.T
    with AudioSource(path) as src:
        block = src.read(start, stop)
    assert block.shape == (2, stop - start)
    assert block.dtype == np.float64
    np.testing.assert_array_equal(block, padded[:, 200 + start:200 + stop])


def test_reads_in_any_order_agree(stereo):
    path, data = stereo
    with AudioSource(path) as src:
        late = src.read(700, 900)
        early = src.read(-10, 50)
        again = src.read(700, 900)
    np.testing.assert_array_equal(late, again)
    np.testing.assert_array_equal(late, data[700:900].T)
    np.testing.assert_array_equal(early[:, 10:], data[:50].T)


@pytest.mark.parametrize("ext, subtype, channels", [
    ("wav", "PCM_24", 1), ("wav", "FLOAT", 2), ("wav", "DOUBLE", 1), ("wav", "PCM_U8", 2),
    ("flac", "PCM_16", 2), ("aiff", "PCM_16", 1), ("ogg", "VORBIS", 2),
])
def test_read_matches_soundfile_for_formats(tmp_path, ext, subtype, channels):
    path = tmp_path / f"clip.{ext}"
    data = _write(path, 3000, channels, subtype, seed=3)
    with AudioSource(path) as src:
        assert (src.channels, src.subtype) == (channels, subtype)
        assert src.n_samples == len(data)
        np.testing.assert_array_equal(src.read(-7, src.n_samples + 9)[:, 7:-9], data.T)


def test_info_and_read(stereo):
    path, data = stereo
    assert info(path) == {"sr": SR, "n_samples": N, "channels": 2, "subtype": "PCM_16",
                          "format": "WAV", "duration": N / SR}
    y, sr = read(path)
    assert sr == SR
    np.testing.assert_array_equal(y, data.T)


def test_nan_is_reported_with_its_position_by_the_block_that_holds_it(tmp_path):
    path = tmp_path / "nan.wav"
    x = _noise(N, 2)
    x[441, 1] = np.nan
    sf.write(str(path), x, SR, subtype="FLOAT")
    with AudioSource(path) as src:
        src.read(500, N)  # after it: fine
        src.read(-20, 441)  # before it: fine
        with pytest.raises(AudioError) as err:
            src.read(400, 600)
    assert str(err.value) == f"{path}: holds NaN or Inf samples (first at sample 441, 0.010 s)"


def test_inf_is_reported(tmp_path):
    path = tmp_path / "inf.wav"
    x = _noise(N, 1)
    x[3, 0] = -np.inf
    sf.write(str(path), x, SR, subtype="DOUBLE")
    with AudioSource(path) as src, pytest.raises(AudioError) as err:
        src.read(0, N)
    assert str(err.value) == f"{path}: holds NaN or Inf samples (first at sample 3, 0.000 s)"


# -- AudioSource: what is refused on opening ---------------------------------------------

def test_missing_file(tmp_path):
    with pytest.raises(AudioError) as err:
        AudioSource(tmp_path / "missing.wav")
    assert str(err.value) == f"{tmp_path / 'missing.wav'}: no such file"
    assert isinstance(err.value, MsftError)


def test_folder(tmp_path):
    with pytest.raises(AudioError) as err:
        AudioSource(tmp_path)
    assert str(err.value) == f"{tmp_path}: is a folder, not an audio file"


def test_not_audio(tmp_path):
    path = tmp_path / "text.wav"
    path.write_text("this is not audio\n" * 20)
    with pytest.raises(AudioError) as err:
        AudioSource(path)
    assert str(err.value).startswith(f"{path}: not a readable audio file (")
    assert isinstance(err.value.__cause__, (sf.SoundFileError, RuntimeError))


def test_empty_file_has_no_samples(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(str(path), np.zeros((0, 2)), SR)
    with pytest.raises(AudioError) as err:
        AudioSource(path)
    assert str(err.value) == f"{path}: has no samples"


def test_truncated_wav(tmp_path):
    good = tmp_path / "good.wav"
    _write(good)
    raw = good.read_bytes()
    path = tmp_path / "cut.wav"
    path.write_bytes(raw[:len(raw) // 2])
    held = len(raw) // 2 - 44  # a canonical 44-byte header
    with pytest.raises(AudioError) as err:
        AudioSource(path)
    assert str(err.value) == (f"{path}: truncated: the header announces {N * 4} bytes of "
                              f"audio data, the file holds {held}")


def test_truncated_flac_fails_cleanly_on_reading(tmp_path):
    good = tmp_path / "good.flac"
    _write(good, 20000)
    path = tmp_path / "cut.flac"
    raw = good.read_bytes()
    path.write_bytes(raw[:len(raw) // 2])
    with pytest.raises(AudioError) as err:
        with AudioSource(path) as src:
            src.read(0, src.n_samples)
    assert str(err.value).startswith(f"{path}: ")


# -- the truncation check must not flag good files -----------------------------------------

def test_valid_files_are_not_flagged(tmp_path):
    for name, kw in (("plain.wav", {}), ("plain.flac", {}), ("float.wav", {"subtype": "FLOAT"})):
        data = _write(tmp_path / name, **kw)
        with AudioSource(tmp_path / name) as src:
            np.testing.assert_array_equal(src.read(0, N), data.T)


def test_wav_with_metadata_chunk_and_trailing_bytes_is_not_flagged(tmp_path):
    path = tmp_path / "tagged.wav"
    x = _noise(N, 2)
    with sf.SoundFile(str(path), "w", SR, 2, "PCM_16") as f:
        f.title = "a title"  # a LIST chunk before the data
        f.write(x)
    with open(path, "ab") as fh:
        fh.write(b"\0" * 37)  # junk after the data: more than announced is fine
    with AudioSource(path) as src:
        assert src.n_samples == N


def _streamed_wav(path, data_size, pcm):
    """A 16-bit mono WAV whose RIFF and data sizes are ``data_size`` placeholders."""
    fmt = struct.pack("<HHIIHH", 1, 1, SR, SR * 2, 2, 16)
    path.write_bytes(b"RIFF" + struct.pack("<I", data_size) + b"WAVE"
                     + b"fmt " + struct.pack("<I", len(fmt)) + fmt
                     + b"data" + struct.pack("<I", data_size) + pcm)


def test_streamed_wav_with_unknown_size_is_read_whole(tmp_path):
    """Tools writing WAV to a pipe leave 0xFFFFFFFF as the sizes: not a truncation."""
    pcm = (np.arange(N, dtype=np.int16) * 37 - 9000).astype("<i2")
    path = tmp_path / "streamed.wav"
    _streamed_wav(path, 0xFFFFFFFF, pcm.tobytes())
    try:
        with sf.SoundFile(str(path)) as f:
            frames = f.frames
    except (sf.SoundFileError, RuntimeError) as exc:
        pytest.skip(f"this libsndfile does not read streamed WAV: {exc}")
    if frames != N:
        pytest.skip(f"this libsndfile reads {frames} frames of a streamed WAV, not {N}")
    with AudioSource(path) as src:
        assert src.n_samples == N
        np.testing.assert_array_equal(src.read(0, N)[0], pcm / 32768.0)


# -- standard input --------------------------------------------------------------------------

def _feed_stdin(monkeypatch, data):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_stdin_is_read_and_its_copy_removed(tmp_path, monkeypatch, stereo):
    path, data = stereo
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    _feed_stdin(monkeypatch, path.read_bytes())
    with AudioSource("-") as src:
        assert src.name == "<stdin>"
        assert (src.sr, src.n_samples, src.channels) == (SR, N, 2)
        np.testing.assert_array_equal(src.read(0, N), data.T)
    assert _listing(scratch) == []


def test_stdin_that_is_not_audio_leaves_no_copy(tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    _feed_stdin(monkeypatch, b"no audio here\n" * 50)
    with pytest.raises(AudioError) as err:
        AudioSource("-")
    assert str(err.value).startswith("<stdin>: not a readable audio file (")
    assert _listing(scratch) == []


# -- AudioWriter --------------------------------------------------------------------------

def test_writer_writes_blocks_and_publishes(tmp_path):
    path = tmp_path / "out.wav"
    x = _noise(N, 2).T
    with AudioWriter(path, SR, 2, "FLOAT") as w:
        w.write(x[:, :300])
        assert not path.exists()  # only under a temporary name so far
        w.write(x[:, 300:])
    assert _listing(tmp_path) == ["out.wav"]
    y, sr = sf.read(str(path), dtype="float64", always_2d=True)
    assert sr == SR and sf.info(str(path)).subtype == "FLOAT"
    np.testing.assert_array_equal(y.T, x.astype(np.float32))
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_writer_default_subtype_is_the_formats(tmp_path):
    for name, subtype in (("a.wav", "PCM_16"), ("a.flac", "PCM_16"), ("a.ogg", "VORBIS")):
        with AudioWriter(tmp_path / name, SR, 1) as w:
            w.write(np.zeros((1, 100)))
        assert sf.info(str(tmp_path / name)).subtype == subtype


def test_writer_is_atomic_on_error(tmp_path):
    path = tmp_path / "out.wav"
    with pytest.raises(KeyError):
        with AudioWriter(path, SR, 1) as w:
            w.write(np.zeros((1, 500)))
            raise KeyError("boom")
    assert _listing(tmp_path) == []


def test_writer_error_keeps_an_existing_file(tmp_path):
    path = tmp_path / "out.wav"
    path.write_bytes(b"precious")
    with pytest.raises(RuntimeError):
        with AudioWriter(path, SR, 1) as w:
            w.write(np.zeros((1, 500)))
            raise RuntimeError("boom")
    assert path.read_bytes() == b"precious"
    assert _listing(tmp_path) == ["out.wav"]


def test_writer_refuses_unknown_extension(tmp_path):
    with pytest.raises(AudioError) as err:
        AudioWriter(tmp_path / "out.xyz", SR, 1)
    assert str(err.value) == (f"{tmp_path / 'out.xyz'}: unknown audio extension .xyz: use one "
                              "of .aif, .aifc, .aiff, .au, .caf, .flac, .mp3, .ogg, .rf64, "
                              ".w64, .wav")
    with pytest.raises(AudioError) as err:
        AudioWriter(tmp_path / "noext", SR, 1)
    assert "unknown audio extension (none)" in str(err.value)
    assert _listing(tmp_path) == []


def test_writer_refuses_bad_subtype(tmp_path):
    with pytest.raises(AudioError) as err:
        AudioWriter(tmp_path / "out.flac", SR, 1, "FLOAT")
    assert str(err.value) == (f"{tmp_path / 'out.flac'}: subtype 'FLOAT' is not available "
                              "for FLAC files")
    assert _listing(tmp_path) == []


def test_writer_refuses_missing_folder(tmp_path):
    target = tmp_path / "nowhere" / "out.wav"
    with pytest.raises(AudioError) as err:
        AudioWriter(target, SR, 1)
    assert str(err.value) == f"{target}: the folder {tmp_path / 'nowhere'} does not exist"


def test_writer_refuses_unwritable_folder(tmp_path):
    with _unwritable(tmp_path / "ro") as ro:
        before = _listing(ro)
        with pytest.raises(AudioError) as err:
            AudioWriter(ro / "out.wav", SR, 1)
        assert str(err.value).startswith(f"{ro / 'out.wav'}: cannot write (")
        assert _listing(ro) == before


@pytest.mark.parametrize("name, subtype, fits", [
    ("a.wav", "PCM_16", True), ("a.WAV", "FLOAT", True), ("a.flac", "PCM_24", True),
    ("a.flac", "FLOAT", False), ("a.ogg", "PCM_16", False), ("a.ogg", "VORBIS", True),
    ("a.aiff", "PCM_24", True), ("a.xyz", "PCM_16", False), ("a", "PCM_16", False),
])
def test_subtype_fits(name, subtype, fits):
    assert subtype_fits(name, subtype) is fits
