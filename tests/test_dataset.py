"""Training crops from containers: alignment, lazy reads, encodings and their decodes,
audio from crops, workers, the pitch-shift and loop properties, bad input."""

import faulthandler
import multiprocessing
import os
import pickle
import re
import signal

import numpy as np
import pytest

import msft_cli
from msft_cli import MSFT, ContainerError, MsftError, ParameterError, load, save
from msft_cli.dataset import IF_QUANTUM, CropDataset, Encoding, collate, iter_batches

SR = 22050
FMIN = 110.0  # 6 octaves at 22.05 kHz, hops 512 .. 16, filters ring ~2.4 s: fast tests


def corr(a, b):
    """Pearson correlation of two arrays."""
    a = np.asarray(a, np.float64).ravel() - np.mean(a)
    b = np.asarray(b, np.float64).ravel() - np.mean(b)
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


def _noisy(rng, seconds, channels):
    """Noise, a chirp and a sine at a bin centre: (channels, samples)."""
    n = int(seconds * SR)
    t = np.arange(n) / SR
    chirp = 0.3 * np.sin(2 * np.pi * (150 * t + 400 * t**2 / seconds))
    sine = 0.2 * np.sin(2 * np.pi * 440.0 * t)
    return 0.05 * rng.standard_normal((channels, n)) + chirp + sine * np.arange(1, channels + 1)[
        :, None]


@pytest.fixture(scope="module")
def small():
    return MSFT(SR, fmin=FMIN)


@pytest.fixture(scope="module")
def signals():
    rng = np.random.default_rng(8)
    return {"a.h5": _noisy(rng, 3.0, 1), "b.h5": _noisy(rng, 4.0, 2),
            "sub/c.h5": _noisy(rng, 2.5, 1)}


@pytest.fixture(scope="module")
def folder(small, signals, tmp_path_factory):
    """a.h5 (3 s mono), b.h5 (4 s stereo) and sub/c.h5 (2.5 s mono), complex64."""
    root = tmp_path_factory.mktemp("containers")
    (root / "sub").mkdir()
    for name, y in signals.items():
        save(small.forward(y), root / name, dtype="complex64")
    return root


@pytest.fixture(scope="module")
def long_mono(small, tmp_path_factory):
    """8 s of mono noise and tones, and its container."""
    y = _noisy(np.random.default_rng(3), 8.0, 1)
    path = tmp_path_factory.mktemp("long") / "long.h5"
    save(small.forward(y), path, dtype="complex64")
    return y, path


def _truth(data, file, frame, channel):
    """The complex frames of a crop, read with the container's own API."""
    with load(data.paths[file]) as box:
        out = []
        for j in range(box.n_octaves):
            c = box.read_frames(j, frame * 2**j, (frame + data.crop_frames) * 2**j)
            out.append(c.mean(axis=0, keepdims=True) if channel == -1 and data.channels == "mix"
                       else c if channel == -1 else c[channel:channel + 1])
        return out


# -- crops -------------------------------------------------------------------------------------

def test_crops_start_on_lowest_octave_frames_and_align_every_octave(folder):
    data = CropDataset(folder, seconds=1.0, channels="each", encoding="complex", seed=5)
    assert data.paths == [folder / "a.h5", folder / "b.h5", folder / "sub" / "c.h5"]
    assert data.grid_hop == data.hops[0] == 512
    assert data.crop_frames == 43 and data.crop_samples == 43 * 512
    assert data.crop_seconds == pytest.approx(43 * 512 / SR)
    for i in range(len(data)):
        s = data[i]
        file, frame, channel = data.locate(i)
        assert (s["file"], s["frame"], s["channel"]) == (file, frame, channel)
        assert s["start"] == frame * 512 / SR
        assert 0 <= frame and (frame + 43) * 512 <= data.n_samples[file]
        for j, (c, times) in enumerate(zip(s["octaves"], s["times"])):
            hop = data.hops[j]
            assert c.shape == (1, 12, 43 * 2**j) == data.shapes[j]
            assert times[0] == s["start"]
            np.testing.assert_allclose(np.diff(times), hop / SR, rtol=1e-9)
            assert times[-1] + hop / SR == pytest.approx(s["start"] + data.crop_seconds)
        for got, want in zip(s["octaves"], _truth(data, file, frame, channel)):
            np.testing.assert_array_equal(got, want)


def test_a_crop_equals_the_containers_crop_of_its_time_range(folder):
    data = CropDataset(folder, frames=4, order="sequential", channels="all",
                       encoding="complex", residuals=True, pattern="b.h5")
    s = data[3]
    finest = min(g.hop for g in data.transform.groups)  # the high-pass band's
    with load(folder / "b.h5") as box:
        part = box.crop(s["start"], s["start"] + data.crop_seconds - 0.5 * finest / SR)
    for got, want, t_got, t_want in zip(s["octaves"], part.octaves, s["times"], part.times):
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(t_got, t_want)
    np.testing.assert_array_equal(s["lowpass"], part.lowpass)
    np.testing.assert_array_equal(s["highpass"], part.highpass)


def test_a_crop_reads_only_the_chunks_it_needs(small, tmp_path, corrupt_chunks):
    """Chunks away from the crop are damaged: Fletcher-32 would fail any read touching them."""
    y = 0.1 * np.random.default_rng(4).standard_normal(6 * SR)
    path = save(small.forward(y), tmp_path / "long.h5", dtype="complex64")
    data = CropDataset(path, frames=20, order="sequential", encoding="ifreq",
                       layout="image", residuals=True)
    item = 3  # 2.79 .. 3.25 s
    want = data[item]
    data.close()
    keep = (want["start"] - 0.05, want["start"] + data.crop_seconds + 0.05)
    assert corrupt_chunks(path, keep, SR) >= 10
    got = data[item]
    for key in ("image", "phase0", "lowpass", "highpass", "times"):
        np.testing.assert_array_equal(got[key], want[key])
    with pytest.raises(ContainerError, match=re.escape(f"{path}: cannot read /")):
        data[0]


# -- encodings ---------------------------------------------------------------------------------

ENCODINGS = ["complex", "realimag", "magnitude", "db", "ifreq"]


@pytest.mark.parametrize("layout", ["octaves", "image"])
@pytest.mark.parametrize("name", ENCODINGS)
def test_every_encoding_decodes_to_the_coefficients(name, layout, folder):
    data = CropDataset(folder, seconds=1.5, channels="all", encoding=name, layout=layout,
                       pattern="b.h5", seed=1, n_crops=3)
    for i in range(3):
        s = data[i]
        truth = _truth(data, *data.locate(i))
        planes = s["octaves"] if layout == "octaves" else [s["image"]]
        assert all(p.dtype == (np.complex64 if name == "complex" else np.float32)
                   for p in planes)
        if layout == "image":
            assert s["image"].shape == data.shapes == (
                data.encoding.planes * 2, 72, data.crop_samples // 16)
        phase = [np.angle(c) for c in truth] if name in ("magnitude", "db") else None
        back = data.decode(s, phase=phase)
        for got, want in zip(back, truth):
            assert got.shape == want.shape and got.dtype == np.complex64
            if name in ("complex", "realimag"):
                np.testing.assert_array_equal(got, want)  # exact
            else:  # float32 rounding: of the magnitude, the dB value, or one phase step
                np.testing.assert_allclose(got, want, rtol=0, atol=2e-6 * np.abs(want).max())
        if name in ("magnitude", "db"):  # magnitude-only: zero phase
            for got, want in zip(data.decode(s), truth):
                np.testing.assert_allclose(got.real, np.abs(want), rtol=2e-6, atol=1e-12)
                assert not got.imag.any()


def test_realimag_and_ifreq_planes(folder):
    """Planes are stacked feature by feature, each holding every channel."""
    ri = CropDataset(folder, frames=3, channels="all", encoding="realimag", pattern="b.h5")
    s = ri[0]
    truth = _truth(ri, *ri.locate(0))
    np.testing.assert_array_equal(s["octaves"][2][:2], truth[2].real)
    np.testing.assert_array_equal(s["octaves"][2][2:], truth[2].imag)
    fi = CropDataset(folder, frames=3, channels="all", encoding="ifreq", pattern="b.h5")
    s = fi[0]
    np.testing.assert_array_equal(s["octaves"][2][:2], np.abs(truth[2]))
    np.testing.assert_allclose(s["phase0"][2], np.angle(truth[2][:, :, 0]), atol=1e-6)


def test_ifreq_of_a_steady_sine(small, tmp_path):
    """At its own bin the deviation is 0; a bin's detuned sine advances by 2 pi df hop / sr."""
    n = 3 * SR
    t = np.arange(n) / SR
    f_on, f_off = small.frequencies[2][5], small.frequencies[4][3] * 2 ** (0.3 / 12)
    y = 0.5 * np.sin(2 * np.pi * f_on * t) + 0.5 * np.sin(2 * np.pi * f_off * t + 1.0)
    save(small.forward(y), tmp_path / "sine.h5", dtype="complex64")
    data = CropDataset(tmp_path, frames=40, order="sequential", encoding="ifreq")
    s = data[1]  # well inside the signal
    mag, dev = s["octaves"][2][0, 5], s["octaves"][2][1, 5]
    np.testing.assert_allclose(mag, 0.5, rtol=1e-4)
    np.testing.assert_allclose(dev, 0.0, atol=1e-5)
    hop = data.hops[4]
    expected = 2 * np.pi * (f_off - small.frequencies[4][3]) * hop / SR
    np.testing.assert_allclose(s["octaves"][4][1, 3], expected, atol=1e-5)
    t0 = s["start"]
    np.testing.assert_allclose(s["phase0"][2][0, 5],
                               np.angle(np.exp(1j * (2 * np.pi * f_on * t0 - np.pi / 2))),
                               atol=1e-5)


def test_ifreq_decode_integrates_without_drift(small, tmp_path):
    """4 s crops: 5504 frames in the top octave; the phase error stays at one rounding."""
    y = 0.3 * np.random.default_rng(6).standard_normal(6 * SR)
    save(small.forward(y), tmp_path / "noise.h5", dtype="complex128")
    data = CropDataset(tmp_path, frames=172, encoding="ifreq")
    s = data[0]
    top = s["octaves"][-1][1]
    assert top.shape[-1] == 172 * 32
    steps = top[:, 1:].astype(np.float64) / IF_QUANTUM
    np.testing.assert_array_equal(steps, np.round(steps))  # on the quantum's grid
    assert np.abs(top).max() <= np.pi + IF_QUANTUM
    truth = _truth(data, *data.locate(0))
    for got, want in zip(data.decode(s), truth):
        strong = np.abs(want) > 1e-3 * np.abs(want).max()
        err = np.angle(got[strong] / want[strong])
        assert np.abs(err).max() < 3e-6  # radians: float32 rounding, not accumulated


def test_db_encoding_floor_and_reference(small, tmp_path):
    n = 4 * SR
    f = small.frequencies[3][0]
    y = 0.5 * np.sin(2 * np.pi * f * np.arange(n) / SR)
    y[SR:] = 0.0  # silence after 1 s
    save(small.forward(y), tmp_path / "s.h5", dtype="complex64")
    for ref, level in ((1.0, -6.0206), (0.5, 0.0)):
        enc = Encoding("db", ref=ref, floor_db=-60.0)
        data = CropDataset(tmp_path, frames=10, order="sequential", encoding=enc)
        assert data.encoding is enc
        s = data[1]
        np.testing.assert_allclose(s["octaves"][3][0, 0], level, atol=1e-3)
        quiet = data[len(data) - 1]["octaves"]  # the silent end: all at the floor
        assert all(np.all(q == -60.0) for q in quiet)
        assert all(not np.any(c) for c in data.decode(data[len(data) - 1]))
    lossy = Encoding("db", floor_db=-20.0)  # lossy below the floor: decoded as 0
    c = np.array([[[0.5, 0.05, 0.2j]]], np.complex64)
    planes, phase0 = lossy.encode([c], small)
    assert phase0 is None
    np.testing.assert_allclose(planes[0], [[[-6.0206, -20.0, -13.9794]]], atol=1e-4)
    np.testing.assert_allclose(lossy.decode(planes, small, phase=[np.angle(c)])[0],
                               [[[0.5, 0.0, 0.2j]]], atol=1e-6)


def test_encoding_on_coefficients_with_batch_axes(small, rng):
    """Encodings work on any (..., channels, bins, frames) arrays, e.g. a batch of model outputs."""
    c = small.forward(rng.standard_normal((2, SR)), dtype="complex64")
    octaves = [np.stack([o, 0.5 * o]) for o in c.groups[1:-1]]  # batch of 2
    for name in ENCODINGS:
        enc = Encoding(name, magnitude="db" if name == "ifreq" else "linear")
        planes, phase0 = enc.encode(octaves, small)
        assert planes[1].shape == (2, 2 * enc.planes, 12, octaves[1].shape[-1])
        phase = [np.angle(o) for o in octaves] if not enc.keeps_phase else None
        back = enc.decode(planes, small, phase=phase, phase0=phase0)
        for got, want in zip(back, octaves):
            big = np.abs(want) > 1e-4  # ifreq in dB: exact above the -120 dB floor
            np.testing.assert_allclose(got[big], want[big], rtol=3e-5)
    assert Encoding("ifreq").exact and not Encoding("ifreq", magnitude="db").exact
    assert Encoding("realimag") == Encoding(**Encoding("realimag").to_params())


def test_image_layout_is_the_containers_image(long_mono):
    _, path = long_mono
    hops = MSFT(SR, fmin=FMIN).hops
    for hop, name in ((hops[-1], "db"), (64, "db"), (hops[0], "magnitude")):
        data = CropDataset(path, frames=6, encoding=name, layout="image", image_hop=hop,
                           seed=2)
        s = data[4]
        start = s["start"]
        with load(path) as box:
            img, times, freqs = box.image(start + 1e-9, start + data.crop_seconds
                                          - 0.5 * hop / SR, hop=hop, db=name == "db")
        assert s["image"].shape == (1, 72, data.crop_samples // hop) == data.shapes
        np.testing.assert_allclose(s["times"], times, rtol=1e-12)
        np.testing.assert_allclose(s["image"][0], img, rtol=1e-5, atol=1e-5)


def test_a_coarse_image_grid_keeps_magnitudes_only(folder):
    with pytest.raises(ParameterError, match=re.escape(
            "image_hop=64 is coarser than the finest octave's hop 16: pooling frames would "
            "lose the 'realimag' encoding's information; use image_hop=None, "
            "layout='octaves' or a magnitude or db encoding")):
        CropDataset(folder, frames=2, layout="image", image_hop=64)
    data = CropDataset(folder, frames=2, layout="image", image_hop=64, encoding="db")
    with pytest.raises(ParameterError, match="pooled the octaves finer than it"):
        data.decode(data[0])


# -- back to audio -----------------------------------------------------------------------------

def test_a_crop_goes_back_to_the_audio_of_its_range(long_mono, snr):
    y, path = long_mono
    data = CropDataset(path, frames=172, order="sequential", encoding="ifreq",
                       residuals=True)  # 4 s crops
    s = data[0]
    start = s["frame"] * data.grid_hop
    audio = data.to_audio(s)
    assert audio.shape == (1, data.crop_samples)
    want = y[:, start:start + data.crop_samples]
    mid = slice(int(1.5 * SR), data.crop_samples - int(1.5 * SR))
    assert snr(want[:, mid], audio[:, mid]) > 120  # filters ring down within ~1.5 s
    assert snr(want, audio) > 20  # the edges miss the frames beyond the crop


def test_a_model_output_goes_back_through_a_container(long_mono, tmp_path):
    """Decoded crops become Coefficients: save them and any msft tool reads them."""
    _, path = long_mono
    data = CropDataset(path, frames=40, encoding="db", residuals=True, seed=3)
    s = data[0]
    output = {"octaves": [p + 1.0 for p in s["octaves"]]}  # "a model's output": +1 dB
    c = data.to_coefficients(output)
    assert c.n_samples == data.crop_samples and c.firsts == [0] * (len(data.hops) + 2)
    saved = save(c, tmp_path / "model.h5")
    with load(saved) as box:
        np.testing.assert_allclose(box.to_audio(), data.to_audio(output), atol=1e-9)
        np.testing.assert_allclose(np.abs(box.octaves[2][...]),
                                   np.abs(data.decode(s)[2]) * 10 ** (1 / 20), rtol=1e-5)


# -- order, seeds, channels --------------------------------------------------------------------

def test_random_crops_repeat_for_a_seed_and_change_with_epoch_and_seed(folder):
    a = CropDataset(folder, frames=5, channels="each", seed=7)
    b = CropDataset(folder, frames=5, channels="each", seed=7)
    where = [a.locate(i) for i in range(len(a))]
    assert where == [b.locate(i) for i in range(len(b))]
    for i in (0, 5):
        for x, y in zip(a[i]["octaves"], b[i]["octaves"]):
            np.testing.assert_array_equal(x, y)
    b.set_epoch(1)
    assert [b.locate(i) for i in range(len(b))] != where
    c = CropDataset(folder, frames=5, channels="each", seed=8)
    assert [c.locate(i) for i in range(len(c))] != where
    for file, frame, channel in where:  # every crop lies within its file
        assert 0 <= frame <= a.n_samples[file] // a.grid_hop - 5
        assert 0 <= channel < a.n_channels[file]
    big = CropDataset(folder, frames=5, channels="each", seed=7, n_crops=3000)
    files = np.bincount([big.locate(i)[0] for i in range(len(big))], minlength=3)
    starts = np.array([n // 512 - 4 for n in big.n_samples])  # uniform over the audio
    np.testing.assert_allclose(files / 3000, starts / starts.sum(), atol=0.03)


def test_sequential_crops_tile_every_file(folder):
    data = CropDataset(folder, seconds=1.0, order="sequential", channels="each")
    where = [data.locate(i) for i in range(len(data))]
    # crops of 43 frames (0.9985 s): a (3 s) holds 3, b (4 s, stereo) 4 x 2, c (2.5 s) 2
    assert where == [(0, 0, 0), (0, 43, 0), (0, 86, 0),
                     (1, 0, 0), (1, 0, 1), (1, 43, 0), (1, 43, 1), (1, 86, 0), (1, 86, 1),
                     (1, 129, 0), (1, 129, 1), (2, 0, 0), (2, 43, 0)]
    assert [s["frame"] for s in data] == [w[1] for w in where]
    assert data.locate(-1) == where[-1]
    with pytest.raises(IndexError, match="index 13 is out of range for 13 crops"):
        data[13]
    with pytest.raises(TypeError, match="index must be an int, not float"):
        data[1.0]


def test_channels_mix_each_all_and_index(folder, small, signals):
    mix = CropDataset(folder, frames=4, order="sequential", channels="mix",
                      encoding="complex", pattern="b.h5")
    each = CropDataset(folder, frames=4, order="sequential", channels="each",
                       encoding="complex", pattern="b.h5")
    both = CropDataset(folder, frames=4, order="sequential", channels="all",
                       encoding="complex", pattern="b.h5")
    one = CropDataset(folder, frames=4, order="sequential", channels=1,
                      encoding="complex", pattern="b.h5")
    assert len(each) == 2 * len(mix) == 2 * len(both) == 2 * len(one)
    m, l, r, s, o = mix[1], each[2], each[3], both[1], one[1]
    assert (l["channel"], r["channel"], m["channel"], s["channel"], o["channel"]) == \
        (0, 1, -1, -1, 1)
    np.testing.assert_array_equal(one.read(0, m["frame"])["octaves"][0], o["octaves"][0])
    for j in range(len(mix.hops)):
        np.testing.assert_array_equal(s["octaves"][j], np.concatenate(
            [l["octaves"][j], r["octaves"][j]]))
        np.testing.assert_array_equal(o["octaves"][j], r["octaves"][j])
        np.testing.assert_allclose(m["octaves"][j], s["octaves"][j].mean(axis=0, keepdims=True),
                                   rtol=1e-6)
    # the mix is the transform of the mono mix (the transform is linear)
    mono = small.forward(signals["b.h5"].mean(axis=0))
    j, start = 3, m["frame"] * 2**3
    want = mono.groups[j + 1][:, :, start - mono.firsts[j + 1]:][:, :, :4 * 8]
    np.testing.assert_allclose(m["octaves"][j], want, atol=1e-6)


# -- workers -----------------------------------------------------------------------------------

def _read_in_worker(index):
    """In a worker: who owned the dataset's handles before reading, and after."""
    data = msft_cli.dataset.loader._WORKER_DATA
    before = data._handles._pid
    data[index]
    return os.getpid(), before, data._handles._pid


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_two_worker_processes_give_the_same_crops(context, folder):
    data = CropDataset(folder, frames=6, channels="each", encoding="ifreq", seed=11,
                       n_crops=12)
    alone = list(iter_batches(data, batch_size=4))  # opens files in this process first
    assert len(data._handles._boxes) == 3
    workers = list(iter_batches(data, batch_size=4, workers=2, context=context))
    assert len(workers) == len(alone) == 3
    for a, b in zip(alone, workers):
        assert a.keys() == b.keys()
        for key in a:
            for x, y in zip(a[key] if isinstance(a[key], list) else [a[key]],
                            b[key] if isinstance(b[key], list) else [b[key]]):
                np.testing.assert_array_equal(x, y)
    # a worker never reads through the parent's handles: a forked one inherits them
    # marked with the parent's pid, and opens its own on first use
    ctx = multiprocessing.get_context(context)
    with ctx.Pool(2, initializer=msft_cli.dataset.loader._init_worker, initargs=(data,)) as pool:
        seen = pool.map(_read_in_worker, range(8), chunksize=1)
    for pid, before, after in seen:
        assert pid != os.getpid() and after == pid and before in (pid, os.getpid())
    assert any(before == os.getpid() for _, before, _ in seen) == (context == "fork")


def test_handles_are_reopened_after_a_process_change_and_never_pickled(folder):
    data = CropDataset(folder, frames=6, seed=2)
    first = data[0]
    assert len(data._handles._boxes) >= 1
    copy = pickle.loads(pickle.dumps(data))
    assert copy._handles._boxes == {} and copy.paths == data.paths
    for x, y in zip(copy[0]["octaves"], first["octaves"]):
        np.testing.assert_array_equal(x, y)
    old = list(data._handles._boxes.values())
    data._handles._pid = -1  # as seen in a forked child
    for x, y in zip(data[0]["octaves"], first["octaves"]):
        np.testing.assert_array_equal(x, y)
    assert all(box not in old for box in data._handles._boxes.values())
    small = CropDataset(folder, frames=6, seed=2, max_open=1)
    for i in range(6):
        small[i]
        assert len(small._handles._boxes) == 1
    data.close()
    copy.close()
    assert data._handles._boxes == {}


def test_collate_and_batches(folder):
    data = CropDataset(folder, frames=3, encoding="ifreq", residuals=True, n_crops=10)
    batches = list(iter_batches(data, batch_size=4))
    assert [b["file"].shape for b in batches] == [(4,), (4,), (2,)]
    b = batches[0]
    assert [o.shape for o in b["octaves"]] == [(4,) + s for s in data.shapes]
    assert b["phase0"][0].shape == (4, 1, 12) and b["lowpass"].shape[:2] == (4, 1)
    assert len(list(iter_batches(data, batch_size=4, drop_last=True))) == 2
    # a batch decodes at once (leading axes are kept)
    back = data.decode(b)
    for i in range(4):
        np.testing.assert_allclose(back[2][i], data.decode(data[i])[2], atol=1e-7)
    assert collate([data[0]])["frame"].shape == (1,)
    for kwargs, message in [({"batch_size": 0}, "batch_size=0 must be an integer >= 1"),
                            ({"workers": -1}, "workers=-1 must be an integer >= 0"),
                            ({"prefetch": 0}, "prefetch=0 must be an integer >= 1")]:
        with pytest.raises(ParameterError, match=re.escape(message)):
            next(iter_batches(data, **kwargs))
    with pytest.raises(ParameterError, match="collate needs at least one sample"):
        collate([])


# -- the representation's properties -----------------------------------------------------------

def _harmonic(f0, seconds=3.0, onset=None):
    """Partials 1..5 of f0 with amplitudes 1/k; steady (with 50 ms fades) or plucked."""
    t = np.arange(int(seconds * SR)) / SR
    y = sum(np.sin(2 * np.pi * k * f0 * t + k) / k for k in range(1, 6))
    if onset is None:
        env = np.minimum(1, np.minimum(t / 0.05, (seconds - t) / 0.05))
    else:
        u = t - onset
        env = np.where(u > 0, np.minimum(1, u / 0.01) * np.exp(-u / 0.4), 0)
    return 0.2 * y * env


@pytest.mark.parametrize("bins_per_octave, onset", [(12, None), (24, None), (12, 1.25)])
def test_a_pitch_shift_is_a_shift_along_the_frequency_axis(bins_per_octave, onset,
                                                           tmp_path):
    """A harmonic tone n semitones up moves by n * B / 12 bins (correlation > 0.99)."""
    t = MSFT(SR, fmin=FMIN, bins_per_octave=bins_per_octave)
    shifts = [0, 1, 2, 5, 7, 12]
    for n in shifts:
        save(t.forward(_harmonic(220.0 * 2 ** (n / 12), onset=onset)),
             tmp_path / f"up{n:02d}.h5", dtype="complex64")
    encodings = ["magnitude"] if onset else ["magnitude", "db"]
    for name in encodings:
        data = CropDataset(tmp_path, seconds=1.0, order="sequential", encoding=name,
                           layout="image")
        frame = round(1.0 * SR / data.grid_hop)  # 1 .. 2 s: the note's middle or its onset
        images = [data.read(i, frame)["image"][0] for i in range(len(shifts))]
        for n, image in zip(shifts[1:], images[1:]):
            bins = n * bins_per_octave // 12
            c = corr(images[0][:-bins], image[bins:])
            assert c > 0.99, (name, n, c)
            profile, reference = image.mean(axis=1), images[0].mean(axis=1)
            best = max(range(0, 2 * bins + 3),
                       key=lambda s: corr(reference[:len(profile) - s], profile[s:]))
            assert best == bins, (name, n)


def test_a_loop_repeated_8_times_gives_8_nearly_identical_crops(tmp_path):
    """A bar of 172 lowest-octave frames (4 beats at 120.2 BPM) tiled 8 times, cropped per bar."""
    t = MSFT(SR, fmin=220.0)
    bar = 172 * t.hop_max
    rng = np.random.default_rng(1)
    time = np.arange(bar) / SR
    beat = bar // 4
    y = np.zeros(bar)
    for b in range(4):
        u = time[:bar - b * beat]
        y[b * beat:] += 0.6 * np.sin(2 * np.pi * (50 + 100 * np.exp(-u / 0.03)) * u) \
            * np.exp(-u / 0.15)  # kick
        h = bar - b * beat - beat // 2
        y[b * beat + beat // 2:] += 0.2 * rng.standard_normal(h) * np.exp(-time[:h] / 0.02)
    for k, f in enumerate([220.0, 277.18, 329.63, 440.0]):  # an arpeggio
        u = time[:bar - k * beat]
        y[k * beat:] += 0.2 * np.sin(2 * np.pi * f * u) * np.exp(-u / 0.3)
    save(t.forward(np.tile(y, 8)), tmp_path / "loop.h5", dtype="complex64")
    data = CropDataset(tmp_path, frames=172, order="sequential", encoding="complex")
    assert len(data) == 8
    crops = [data[i]["octaves"] for i in range(8)]
    mags = [np.concatenate([np.abs(o).ravel() for o in c]) for c in crops]
    for i in range(8):
        assert corr(mags[i], mags[3]) > 0.99
        if 1 <= i <= 6:  # inside the loop: the same coefficients, phases included
            for a, b in zip(crops[i], crops[3]):
                np.testing.assert_allclose(a, b, rtol=0, atol=1e-6 * np.abs(b).max())


# -- bad input ---------------------------------------------------------------------------------

def test_a_folder_without_containers(tmp_path):
    (tmp_path / "notes.txt").write_text("no containers here")
    with pytest.raises(ContainerError, match=re.escape(
            f"{tmp_path}: no containers (*.h5) in this folder")):
        CropDataset(tmp_path)
    with pytest.raises(ContainerError, match=re.escape(f"{tmp_path / 'x.h5'}: no such file")):
        CropDataset([tmp_path / "x.h5"])
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "fake.h5").write_bytes(b"not hdf5")  # skipped, as batch does
    with pytest.raises(ContainerError, match=re.escape(
            f"{tmp_path}: no containers (*.h5) in this folder")):
        CropDataset(tmp_path)
    (tmp_path / "fake.h5").write_bytes(b"not hdf5")
    with pytest.raises(ContainerError, match=re.escape(f"{tmp_path / 'fake.h5'}: not an HDF5")):
        CropDataset(tmp_path)


@pytest.mark.parametrize("params, shown", [
    ({"fmin": 220.0}, "fmin=220.0 but {a} with fmin=110.0"),
    ({"fmin": FMIN, "bins_per_octave": 24}, "bins_per_octave=24 but {a} with bins_per_octave=12"),
    ({"fmin": FMIN, "n_octaves": 5}, "n_octaves=5 but {a} with n_octaves=6"),
    ({"fmin": FMIN, "mode": "periodic"}, "mode='periodic' but {a} with mode='zero'"),
])
def test_containers_with_different_parameters_are_refused(params, shown, tmp_path, folder):
    other = tmp_path / "other.h5"
    y = np.zeros((1, SR))
    save(MSFT(SR, **params).forward(y), other, dtype="complex64")
    a = folder / "a.h5"
    with pytest.raises(ContainerError, match=re.escape(
            f"{other} was made with {shown.format(a=a)}: the containers of one dataset must "
            "share the transform's parameters")):
        CropDataset([a, other])


def test_channels_all_needs_one_channel_count_and_an_index_must_exist(folder):
    with pytest.raises(ContainerError, match=re.escape(
            f"{folder / 'b.h5'} has 2 channel(s) but {folder / 'a.h5'} has 1: channels='all' "
            "needs the same number in every file (use 'mix', 'each' or a channel index)")):
        CropDataset(folder, channels="all")
    with pytest.raises(ParameterError, match=re.escape(
            f"channels=1 does not exist in {folder / 'a.h5'}: it has 1 channel(s)")):
        CropDataset(folder, channels=1)


def test_a_crop_longer_than_a_file(folder, signals):
    c = folder / "sub" / "c.h5"
    with pytest.raises(ParameterError, match=re.escape(
            f"{c}: lasts 2.500 s, shorter than a crop of 2.972 s: pass short='skip' to leave "
            "such files out or short='pad' to pad their crops with silence")):
        CropDataset(folder, frames=128)
    skip = CropDataset(folder, frames=128, short="skip", order="sequential")
    assert skip.paths == [folder / "a.h5", folder / "b.h5"]
    assert skip.skipped == [(c, "lasts 2.500 s, shorter than a crop of 2.972 s")]
    assert [skip.locate(i) for i in range(len(skip))] == [(0, 0, -1), (1, 0, -1)]
    pad = CropDataset(folder, frames=128, short="pad", order="sequential", encoding="complex")
    assert [pad.locate(i) for i in range(len(pad))] == [
        (0, 0, -1), (0, 128, -1), (1, 0, -1), (1, 128, -1), (2, 0, -1)]
    s = pad[4]  # c.h5 padded: the transform of its zero continuation, as stored
    assert s["valid"] == pytest.approx(2.5) and s["start"] == 0.0
    assert pad[1]["valid"] == pytest.approx(3.0 - 128 * 512 / SR)
    with load(c) as box:
        for j, got in enumerate(s["octaves"]):
            np.testing.assert_array_equal(got, box.read_frames(j, 0, 128 * 2**j))
            assert got.shape[-1] == 128 * 2**j
    random = CropDataset(folder, frames=128, short="pad", n_crops=400, seed=1)
    assert {random.locate(i)[1] for i in range(400) if random.locate(i)[0] == 2} == {0}
    with pytest.raises(ParameterError, match=re.escape(
            "no container lasts a crop of 4.458 s (3 skipped as too short)")):
        CropDataset(folder, frames=192, short="skip")


@pytest.mark.parametrize("kwargs, error, message", [
    ({"seconds": 0}, ParameterError, "seconds=0 must be a positive duration"),
    ({"seconds": -1.0}, ParameterError, "seconds=-1.0 must be a positive duration"),
    ({"frames": 0}, ParameterError, "frames=0 must be a positive integer (frames of the "
                                    "lowest octave)"),
    ({"frames": 2.5}, TypeError, "frames must be an int, not float"),
    ({"seconds": "2"}, TypeError, "seconds must be a number, not str"),
    ({"seconds": 1.0, "frames": 4}, ParameterError, "give seconds or frames, not both"),
    ({"order": "shuffled"}, ParameterError,
     "order='shuffled' is unknown: must be one of random, sequential"),
    ({"layout": "grid"}, ParameterError, "layout='grid' is unknown: must be one of octaves, "
                                         "image"),
    ({"short": "crop"}, ParameterError, "short='crop' is unknown: must be one of error, skip, "
                                        "pad"),
    ({"channels": "left"}, ParameterError,
     "channels='left' must be one of mix, each, all or a channel index (0, 1, ...)"),
    ({"channels": True}, ParameterError, "channels=True must be one of"),
    ({"encoding": "polar"}, ParameterError,
     "encoding='polar' is unknown: must be one of complex, realimag, magnitude, db, ifreq"),
    ({"encoding": 3}, TypeError, "encoding must be a name or an Encoding, not int"),
    ({"seed": -1}, ParameterError, "seed=-1 must be a non-negative integer"),
    ({"n_crops": 0}, ParameterError, "n_crops=0 must be a positive integer"),
    ({"n_crops": 5, "order": "sequential"}, ParameterError,
     "n_crops applies to order='random' only"),
    ({"image_hop": 32}, ParameterError, "image_hop applies to layout='image' only"),
    ({"layout": "image", "image_hop": 48}, ParameterError,
     "image_hop=48 must be a power of two between 16 and 512"),
    ({"layout": "image", "image_hop": 1024}, ParameterError,
     "image_hop=1024 must be a power of two between 16 and 512"),
    ({"max_open": 0}, ParameterError, "max_open=0 must be a positive integer"),
])
def test_bad_parameters(kwargs, error, message, folder):
    with pytest.raises(error, match=re.escape(message)):
        CropDataset(folder, **kwargs)


def test_bad_encoding_parameters_and_decode_arguments(small):
    for kwargs, message in [
            ({"ref": 0}, "ref=0 must be a positive amplitude"),
            ({"floor_db": float("nan")}, "floor_db=nan must be a finite level in dB"),
            ({"magnitude": "log"}, "magnitude='log' is unknown: must be linear or db"),
            ({"dtype": "float16"}, "dtype='float16' is unknown: must be one of float32, "
                                   "float64")]:
        with pytest.raises(ParameterError, match=re.escape(message)):
            Encoding("db", **kwargs)
    x = [np.zeros((3, 12, 4), np.float32)]
    with pytest.raises(ParameterError, match=re.escape(
            "octave 0: 3 planes is not a multiple of 2 ('realimag' has 2 per channel)")):
        Encoding("realimag").decode(x, small)
    with pytest.raises(ParameterError, match="phase applies to the magnitude and db "
                                             "encodings, not 'ifreq'"):
        Encoding("ifreq").decode(x, small, phase=[x[0]])
    with pytest.raises(ParameterError, match="phase0 applies to the ifreq encoding, not 'db'"):
        Encoding("db").decode(x, small, phase0=[x[0]])


# -- the default transform, once ---------------------------------------------------------------

def test_default_parameters_on_a_sample_clip(sample_paths, tmp_path):
    clip = next(p for p in sample_paths if p.name == "techno_bassline.wav")
    msft_cli.analyze(clip, tmp_path / "techno.h5")
    data = CropDataset(tmp_path, seconds=2.0, channels="each", encoding="ifreq",
                       layout="image", seed=0)
    assert (data.grid_hop, data.crop_frames, data.crop_samples) == (8192, 11, 90112)
    assert data.crop_seconds == pytest.approx(2.0433, abs=1e-4)
    assert len(data) == 2 * 4  # 10 s stereo: 4 whole 2.04 s crops per channel
    s = data[0]
    assert s["image"].shape == data.shapes == (2, 120, 90112 // 16)
    truth = _truth(data, *data.locate(0))
    for got, want in zip(data.decode(s), truth):
        assert got.shape == want.shape == (1, 12, got.shape[-1])
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-6 * np.abs(want).max())


def test_bad_sources(folder):
    with pytest.raises(ParameterError, match="source is an empty list: give a folder or "
                                             "container paths"):
        CropDataset([])
    with pytest.raises(TypeError, match="source entries must be paths, not int"):
        CropDataset([folder / "a.h5", 3])
    data = CropDataset([folder / "sub", folder / "a.h5"], frames=4, order="sequential")
    assert data.paths == [folder / "sub" / "c.h5", folder / "a.h5"]


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_batches_from_workers_leave_no_shared_files(folder):
    shm = msft_cli.dataset.loader._SHARED
    before = set(shm.glob("msft-batch-*")) if shm.is_dir() else set()
    data = CropDataset(folder, frames=3, encoding="db", n_crops=40, seed=4)
    loop = iter_batches(data, batch_size=4, workers=2, context="fork")
    first = next(loop)
    first["octaves"][0][:] = 0.0  # batches are the caller's to change
    loop.close()  # left early: batches the workers wrote but nobody read are removed
    assert (set(shm.glob("msft-batch-*")) if shm.is_dir() else set()) == before
    again = next(iter_batches(data, batch_size=4, workers=2, context="fork"))
    assert np.any(again["octaves"][0] != 0.0)


def test_docs_and_example_name_the_real_api():
    """docs/DATASET.md's parameter table is CropDataset's signature; the example parses."""
    import ast
    import inspect
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    doc = (root / "docs" / "DATASET.md").read_text(encoding="utf-8")
    table = re.findall(r"^\| `(\w+)`(?: / `(\w+)`)? \|", doc, re.MULTILINE)
    documented = {name for pair in table for name in pair if name}
    params = set(inspect.signature(CropDataset).parameters)
    assert params <= documented, params - documented
    for name in ENCODINGS:
        assert f"| `\"{name}\"` |" in doc
    example = (root / "examples" / "torch_dataloader.py").read_text(encoding="utf-8")
    tree = ast.parse(example)
    imported = {a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                for a in node.names}
    assert {"CropDataset", "DataLoader"} <= imported


def test_container_read_frames(folder):
    """Container.read_frames (added for the dataset): global indices, zeros where not stored."""
    with load(folder / "a.h5") as box:
        for octave in (0, 3, "lowpass", "highpass"):
            g = box._group(octave)
            first, count = box.ranges[g]
            inside = box.read_frames(octave, first + 2, first + 7)
            np.testing.assert_array_equal(inside, box._datasets[g][:, :, 2:7])
            wide = box.read_frames(octave, first - 3, first + count + 4)
            assert wide.shape[2] == count + 7
            assert not wide[:, :, :3].any() and not wide[:, :, -4:].any()
            np.testing.assert_array_equal(wide[:, :, 3:-4], box._datasets[g][...])
            assert box.read_frames(octave, first + count + 10, first + count + 12).shape[2] == 2
            assert box.read_frames(octave, 5, 5).shape[2] == 0
        with pytest.raises(ParameterError, match="stop=4 must not be before first=5"):
            box.read_frames(0, 5, 4)


def test_dtypes_is_the_old_name_of_plane_dtypes():
    import msft_cli.dataset as dataset
    with pytest.warns(DeprecationWarning, match=r"^msft_cli\.dataset\.DTYPES is deprecated"):
        assert dataset.DTYPES == dataset.PLANE_DTYPES == ("float32", "float64")


class _Crashing(CropDataset):
    """Dies of a segmentation fault reading item 5 in a worker (as HDF5 may on a damaged
    file)."""

    def __getitem__(self, index):
        if index == 5 and os.getpid() != self.parent:
            faulthandler.disable()  # no traceback from the child in the test's output
            os.kill(os.getpid(), signal.SIGSEGV)
        return super().__getitem__(index)


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_worker_killed_by_a_file_names_the_file(folder):
    data = _Crashing(folder, frames=6, seed=11, n_crops=12)
    data.parent = os.getpid()
    file = data.paths[data.locate(5)[0]]
    with pytest.raises(MsftError) as err:
        list(iter_batches(data, batch_size=2, workers=2, context="fork"))
    assert re.fullmatch(rf"{re.escape(str(file))}: a worker process \(pid \d+\) died reading "
                        r"it \(item 5\): the file is probably damaged", str(err.value))
