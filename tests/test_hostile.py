"""Hostile files (issue 17): each class of damage, made small, refused in one line.

Audio: rates and channel counts outside what msft supports, special files,
samples too large to store, truncations of every format, more memory than is
left. Containers: attributes of the wrong type or size, lengths and shapes the
file cannot hold, chunks never written, oversized chunks, foreign objects.
The transform's cache of block geometries stays within its bound.
"""

import os
import struct

import h5py
import numpy as np
import pytest
import soundfile as sf

from msft_cli import MSFT, AudioError, ContainerError, ParameterError, analyze, info, load, save
from msft_cli import convert
from msft_cli.io.audio import AudioSource
from msft_cli.io.container import checks

SR = 8000


def _wav(path, frames=400, channels=2, sr=SR, subtype="PCM_16"):
    x = np.random.default_rng(0).standard_normal((frames, channels)) * 0.1
    sf.write(str(path), x, sr, subtype=subtype)
    return path


def _patch(path, offset, fmt, value):
    raw = bytearray(path.read_bytes())
    struct.pack_into(fmt, raw, offset, value)
    path.write_bytes(bytes(raw))


def _refused(path, message, error=AudioError):
    with pytest.raises(error) as err:
        with AudioSource(path) as src:
            src.read(0, src.n_samples)
    assert str(err.value) == message
    return err.value


# -- audio: bounds checked before anything is allocated ------------------------------------

@pytest.mark.parametrize("rate", [134_217_728, 2**31 - 1, 800_000, 999])
def test_sample_rate_outside_the_supported_range(tmp_path, rate):
    path = _patch_rate = _wav(tmp_path / "rate.wav")
    _patch(_patch_rate, 24, "<I", rate)  # the fmt chunk's sample rate
    _refused(path, f"{path}: sample rate {rate} Hz is outside what msft supports "
                   "(1000..768000 Hz)")


def test_too_many_channels(tmp_path):
    path = tmp_path / "wide.wav"
    # a 2 KB WAV declaring 1,024 channels (one frame)
    with sf.SoundFile(str(path), "w", SR, 1024, "PCM_16") as f:
        f.write(np.zeros((1, 1024)))
    assert path.stat().st_size < 3000
    _refused(path, f"{path}: 1024 channels: msft supports 1 to 64")


def test_more_memory_than_available_is_refused_before_reading(tmp_path, monkeypatch):
    path = _wav(tmp_path / "a.wav", channels=8)
    monkeypatch.setattr(convert, "available_memory", lambda: 10 << 20)
    t = MSFT(SR, threads=1)
    need = 2 * t.working_memory(400, 8)
    with pytest.raises(AudioError) as err:
        analyze(path, tmp_path / "a.h5", transform=t)
    assert str(err.value) == (f"{path}: needs about {need / 2**20:.0f} MiB to transform "
                              "(8 channel(s) at 8000 Hz), more than the 10 MiB available")
    assert not (tmp_path / "a.h5").exists()


def test_working_memory_is_per_channel_and_flat_in_length():
    t = MSFT(44100, threads=1)
    one = t.working_memory(1, 1)
    assert t.working_memory(1, 8) == 8 * one
    assert 4 << 20 < one < 32 << 20  # about 11 MiB a channel at 44.1 kHz
    assert t.working_memory(3600 * 44100, 1) == t.working_memory(600 * 44100, 1)


# -- audio: special files --------------------------------------------------------------------

def test_fifo_is_refused_at_once(tmp_path):
    path = tmp_path / "x.wav"
    os.mkfifo(path)
    _refused(path, f"{path}: is a FIFO, not a regular file")
    with pytest.raises(AudioError):
        analyze(path, tmp_path / "x.h5")


def test_device_is_refused():
    _refused("/dev/null", "/dev/null: is a device, not a regular file")


def test_fifo_and_device_as_containers_are_refused(tmp_path):
    path = tmp_path / "x.h5"
    os.mkfifo(path)
    with pytest.raises(ContainerError) as err:
        load(path)
    assert str(err.value) == f"{path}: is a FIFO, not a regular file"


# -- audio: samples ------------------------------------------------------------------------

def test_samples_beyond_float32_are_refused_like_nan(tmp_path):
    path = tmp_path / "huge.wav"
    x = np.zeros((500, 1))
    x[123] = 3.5e38  # above float32's largest
    sf.write(str(path), x, SR, subtype="DOUBLE")
    _refused(path, f"{path}: holds samples too large to store (first at sample 123, "
                   "0.015 s: magnitude above 1e+30, full scale being 1)")
    with pytest.raises(AudioError):
        analyze(path, tmp_path / "huge.h5")
    assert not (tmp_path / "huge.h5").exists()


# -- audio: short decodes, every format -------------------------------------------------------

def _cut(tmp_path, name, fmt, subtype, keep=0.8, frames=8000):
    good = tmp_path / f"good-{name}"
    x = np.random.default_rng(1).standard_normal((frames, 2)) * 0.1
    sf.write(str(good), x, SR, subtype=subtype, format=fmt)
    raw = good.read_bytes()
    path = tmp_path / name
    path.write_bytes(raw[:int(len(raw) * keep)])
    return path


@pytest.mark.parametrize("name, fmt, subtype, message", [
    ("a.aiff", "AIFF", "PCM_16", "truncated: the header announces 32008 bytes of audio data"),
    ("a.au", "AU", "PCM_16", "truncated: the header announces 32000 bytes of audio data"),
    ("a.w64", "W64", "PCM_16", "truncated: the header announces 32000 bytes of audio data"),
    ("a.rf64", "RF64", "PCM_16", "truncated: the header announces 8000 samples"),
    ("a.wav", "WAV", "PCM_16", "truncated: the header announces 32000 bytes of audio data"),
    ("a.ogg", "OGG", "VORBIS", "truncated: the Ogg stream ends inside a page or without its "
                               "last one"),
    ("a.mp3", "MP3", "MPEG_LAYER_III", "ends early: read"),
    ("a.flac", "FLAC", "PCM_16", "cannot be decoded"),
])
def test_short_decodes_are_refused_in_every_format(tmp_path, name, fmt, subtype, message):
    path = (_cut(tmp_path, name, fmt, subtype, 0.9, 16000) if fmt == "OGG" else
            _cut(tmp_path, name, fmt, subtype))
    with pytest.raises(AudioError) as err:
        with AudioSource(path) as src:
            src.read(0, src.n_samples)
    assert str(err.value).startswith(f"{path}: {message}")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("name, fmt, subtype", [
    ("a.aiff", "AIFF", "PCM_16"), ("a.au", "AU", "PCM_16"), ("a.w64", "W64", "PCM_16"),
    ("a.rf64", "RF64", "PCM_16"), ("a.ogg", "OGG", "VORBIS"), ("a.caf", "CAF", "PCM_16")])
def test_whole_files_of_every_format_pass(tmp_path, name, fmt, subtype):
    path = _cut(tmp_path, name, fmt, subtype, keep=1.0)
    with AudioSource(path) as src:
        assert src.read(0, src.n_samples).shape == (2, 8000)


# -- containers ------------------------------------------------------------------------------

@pytest.fixture
def box(tmp_path):
    t = MSFT(SR, fmin=220.0, threads=1)
    y = np.random.default_rng(2).standard_normal((2, 1600)) * 0.1
    path = tmp_path / "box.h5"
    save(t.forward(y, dtype="complex64"), path)
    return path


def _edit(path, edit):
    with h5py.File(path, "r+", libver="latest") as f:
        edit(f)
    return path


def _container_refused(path, message):
    with pytest.raises(ContainerError) as err:
        with load(path) as c:
            c.to_coefficients()
    assert str(err.value) == message
    assert "\n" not in message
    with pytest.raises(ContainerError):
        str(info(path))


def test_corrupt_length_is_not_trusted(box):
    def edit(f):
        f.attrs["n_samples"] = 10**9  # within the rule (24 h at 768 kHz), not this file's
    _container_refused(_edit(box, edit), f"{box}: n_samples 1000000000 is more than the "
                       f"stored frames can stand for (at most {_most(box)})")


def _most(path):
    with h5py.File(path, "r") as f:
        values = sum(ds.shape[1] * ds.shape[2] for ds in f.values())
    t = MSFT(SR, fmin=220.0)
    return 64 * values + 2 * t.hop_max


@pytest.mark.parametrize("name, value, rule", [
    ("sample_rate", np.array([8000, 8000]), "must be an integer in 1000..768000"),
    ("sample_rate", 2**40, "must be an integer in 1000..768000"),
    ("n_channels", 1000, "must be an integer in 1..64"),
    ("n_samples", "many", "must be an integer in 1..66355200000"),
    ("n_samples", 237724878576, "must be an integer in 1..66355200000"),
    ("n_samples", 0, "must be an integer in 1..66355200000"),
    ("bins_per_octave", 3.5, "must be an integer in 1..64"),
])
def test_root_attributes_of_the_wrong_type_or_range(box, name, value, rule):
    def edit(f):
        f.attrs[name] = value
    shown = " ".join(repr(value.item() if isinstance(value, np.generic) else value).split())
    _container_refused(_edit(box, edit), f"{box}: attribute {name} is {shown}: {rule}")


def test_non_finite_fmin(box):
    def edit(f):
        f.attrs["fmin"] = np.nan
    _container_refused(_edit(box, edit), f"{box}: attribute fmin is nan: must be a finite "
                                         "number")


def test_oversized_attribute(box, monkeypatch):
    # HDF5 keeps attributes over 64 KiB only in dense storage: the bound, lowered, shows
    # that sizes are checked before the values are read
    monkeypatch.setattr(checks, "_MAX_ATTRIBUTE_BYTES", 64)
    _container_refused(box, f"{box}: dataset /octave_0 attribute 'frequencies' has shape "
                            "(12,): too large to be msft's")


def test_dataset_declaring_frames_never_written(box):
    def edit(f):
        shape, attrs = f["octave_0"].shape, dict(f["octave_0"].attrs)
        del f["octave_0"]
        f.create_dataset("octave_0", shape=shape[:2] + (2**40,), dtype="complex64",
                         chunks=shape[:2] + (64,)).attrs.update(attrs)
    with pytest.raises(ContainerError) as err:
        load(_edit(box, edit))
    assert str(err.value).startswith(f"{box}: dataset /octave_0 declares ")
    assert "more than a file of" in str(err.value)


def test_dataset_with_missing_chunks(box):
    with h5py.File(box, "r") as f:
        hop, shape = int(f["octave_0"].attrs["hop"]), f["octave_0"].shape

    def edit(f):
        attrs = dict(f["octave_0"].attrs)
        del f["octave_0"]
        ds = f.create_dataset("octave_0", shape=shape[:2] + (shape[2] * 4,), dtype="complex64",
                              chunks=shape[:2] + (shape[2],))
        ds[:, :, :shape[2]] = 0
        ds.attrs.update(attrs)
    _container_refused(_edit(box, edit), f"{box}: dataset /octave_0 stores 1 of its 4 chunks "
                                         "(incomplete or corrupt)")
    assert hop > 0


def test_dataset_of_a_foreign_type(box):
    def edit(f):
        attrs = dict(f["lowpass"].attrs)
        data = f["lowpass"][...]
        del f["lowpass"]
        f.create_dataset("lowpass", data=data.astype(np.int32)).attrs.update(attrs)
    _container_refused(_edit(box, edit), f"{box}: dataset /lowpass is int32: must be one of "
                                         "float16, float32, float64")


def test_group_in_place_of_a_dataset(box):
    def edit(f):
        del f["highpass"]
        f.create_group("highpass")
    _container_refused(_edit(box, edit), f"{box}: highpass is not a dataset")


def test_oversized_chunks(box):
    def edit(f):
        attrs = dict(f["octave_1"].attrs)
        shape = f["octave_1"].shape
        del f["octave_1"]
        f.create_dataset("octave_1", shape=shape[:2] + (2**22,), dtype="complex64",
                         chunks=shape[:2] + (2**20,), compression="gzip").attrs.update(attrs)
    with pytest.raises(ContainerError) as err:
        load(_edit(box, edit))
    assert str(err.value) == (f"{box}: dataset /octave_1 has chunks of "
                              f"{2 * 12 * 2**20 * 8} bytes, more than msft reads (67108864)")


def test_first_frame_beyond_any_signal(box):
    def edit(f):
        f["octave_2"].attrs["first_frame"] = 2**62
    with pytest.raises(ContainerError) as err:
        load(_edit(box, edit))
    assert str(err.value) == f"{box}: dataset /octave_2 has first_frame {2**62}, beyond any signal"


# -- the transform's cache stays bounded ------------------------------------------------------

def test_cache_of_geometries_is_bounded_by_bytes():
    t = MSFT(SR, fmin=110.0, threads=1)
    ref = MSFT(SR, fmin=110.0, threads=1)
    ref.cache_bytes = float("inf")
    t.cache_bytes = 1  # keeps only the two geometries in use
    rng = np.random.default_rng(3)
    for n in (400, 3000, 9000, 30000, 400):
        y = rng.standard_normal(n)
        np.testing.assert_array_equal(t.forward(y).inverse(), ref.forward(y).inverse())
        assert len(t._lru) <= 2
        assert len(t._kernels) <= 2 * 2  # an analyzer and a synthesizer per geometry
    assert len(ref._lru) > 2
    assert t.cached_bytes < ref.cached_bytes


@pytest.mark.parametrize("checksum", [False, True])
def test_fifo_in_a_batch_walk_fails_alone_at_once(tmp_path, checksum):
    from msft_cli.batch import run

    folder = tmp_path / "in"
    folder.mkdir()
    _wav(folder / "good.wav", frames=4000)
    os.mkfifo(folder / "x.wav")
    report = run("analyze", [folder], tmp_path / "out", jobs=1, checksum=checksum,
                 fmin=500.0)
    assert (report.converted, report.failed) == (1, 1)
    assert report.failures[0]["reason"] == f"{folder / 'x.wav'}: is a FIFO, not a regular file"


def test_damaged_global_heap_is_refused_before_hdf5_loops_on_it(box):
    # a free-space object of size 0 in the middle of the collection that holds the
    # variable-length strings: HDF5 2.0 loops forever reading the string attributes
    raw = bytearray(box.read_bytes())
    at = raw.find(b"GCOL")
    assert at >= 0
    p = at + 16 + 16 + 8  # the second object (the first holds a 1..8 byte string)
    raw[p:p + 16] = bytes(16)
    box.write_bytes(bytes(raw))
    size = int.from_bytes(raw[at + 8:at + 16], "little")
    _container_refused(box, f"{box}: damaged global heap at byte {at} (free space of 0 bytes "
                            f"where {size - 40} remain)")


def _three_seconds(path, fmt, subtype):
    x = np.random.default_rng(4).standard_normal((3 * 44100, 2)) * 0.3
    sf.write(str(path), x, 44100, subtype=subtype, format=fmt)
    return bytearray(path.read_bytes())


def test_flac_declaring_one_sample(tmp_path):
    path = tmp_path / "one.flac"
    raw = _three_seconds(path, "FLAC", "PCM_16")
    head = int.from_bytes(raw[18:26], "big")  # STREAMINFO: total_samples, its low 36 bits
    raw[18:26] = ((head & ~((1 << 36) - 1)) | 1).to_bytes(8, "big")
    path.write_bytes(bytes(raw))
    with pytest.raises(AudioError) as err:
        AudioSource(path)
    assert str(err.value).startswith(f"{path}: its header declares 1 samples, but the file "
                                     "holds ")
    assert str(err.value).endswith(" bytes of audio, more than that many can take (a damaged "
                                   "length)")


def test_mp3_with_a_damaged_xing_frame_count(tmp_path):
    path = tmp_path / "xing.mp3"
    raw = _three_seconds(path, "MP3", "MPEG_LAYER_III")
    at = raw.find(b"Xing")
    assert at > 0
    raw[at + 8:at + 12] = (3).to_bytes(4, "big")  # 3 MPEG frames instead of ~116
    path.write_bytes(bytes(raw))
    with pytest.raises(AudioError) as err:
        AudioSource(path)
    assert "its header declares" in str(err.value) and "(a damaged length)" in str(err.value)


def test_values_too_large_for_float16_magnitudes(tmp_path):
    path = tmp_path / "loud.wav"
    x = np.zeros((800, 1))
    x[100] = 1e6  # a float WAV may hold it; float16 magnitudes cannot
    sf.write(str(path), x, SR, subtype="FLOAT")
    with pytest.raises(ParameterError) as err:
        analyze(path, tmp_path / "loud.h5", store="magnitude", fmin=500.0)
    assert str(err.value).startswith(f"{tmp_path / 'loud.h5'}: values up to ")
    assert str(err.value).endswith(" do not fit float16 (largest 65504): store float32")
    assert not (tmp_path / "loud.h5").exists()
    analyze(path, tmp_path / "loud.h5", store="magnitude", dtype="float32", fmin=500.0)


def test_string_attribute_damaged_into_a_sequence_is_refused_before_hdf5_reads_it(box):
    # one byte of the 'mode' attribute's type (variable-length string -> sequence): HDF5
    # 2.0 dies of a segmentation fault reading it (found by bench/fuzz.py)
    raw = bytearray(box.read_bytes())
    at = raw.find(b"mode\0")
    assert at > 0
    t = raw.find(b"\x19\x01\x01\x00\x10\x00\x00\x00", at)  # class 9 (vlen), a string
    assert 0 < t - at < 16
    raw[t + 1] = 0xFF
    box.write_bytes(bytes(raw))
    _container_refused(box, f"{box}: root attribute 'mode' has a type msft does not read "
                            "(HDF5 type class 9)")
