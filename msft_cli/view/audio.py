"""Audio of a time range, resynthesized from a container, as a WAV stream.

A range is made a segment at a time. Each segment reads only the frames of
``[start - margin, stop + margin)`` (``margin`` the transform's own block
margin, rounded out to its coarsest hop so the frame grids keep their
alignment) and synthesizes them as the coefficients of a signal of that
length (:class:`msft_cli.Coefficients` with the frames' positions): the
samples of ``[start, stop)`` are then those of the whole file's resynthesis,
to the accuracy the library's own blocks have. A band solo zeroes the
coefficients of the bins whose centres lie outside ``[f_lo, f_hi]`` before
the synthesis (an exact band filter); the low-pass band counts as sitting at
0 Hz and the high-pass band at the Nyquist frequency. Magnitude containers
have their phases reconstructed (:func:`msft_cli.phase.reconstruct`) over the
range and its margins, in one piece. A ``"periodic"`` container's frames
wrap around its period: it is resynthesized whole, then cut.
"""

import contextlib
import struct

import numpy as np

from ._lib import Coefficients, ParameterError, reconstruct

#: Formats of the stream: 16-bit PCM or 32-bit float.
FORMATS = ("pcm16", "float")

#: Output samples per segment: a short first one, so playback starts soon.
FIRST_SEGMENT_SECONDS, SEGMENT_SECONDS = 2.0, 30.0

#: Magnitude containers: the longest range reconstructed at once, and the iterations.
MAX_MAGNITUDE_SECONDS = 60.0
DEFAULT_ITERATIONS = 8


class Band:
    """Which bands a solo keeps: centres in ``[f_lo, f_hi]`` Hz (None: no limit)."""

    def __init__(self, f_lo=None, f_hi=None):
        lo = 0.0 if f_lo is None else float(f_lo)
        hi = np.inf if f_hi is None else float(f_hi)
        if not (np.isfinite(lo) and lo >= 0):
            raise ParameterError(f"f_lo={f_lo} must be a frequency of at least 0 Hz")
        if not hi > lo:
            raise ParameterError(f"f_hi={f_hi} must be above f_lo={lo:g} Hz")
        self.lo, self.hi = lo, hi

    @property
    def everything(self):
        return self.lo == 0 and self.hi == np.inf

    def keep(self, transform):
        """Per band group (low-pass, octaves, high-pass), the rows kept (bool arrays)."""
        centres = [np.array([0.0])] + list(transform.frequencies) + \
            [np.array([transform.sr / 2])]
        return [(c >= self.lo * (1 - 1e-9)) & (c <= self.hi * (1 + 1e-9)) for c in centres]


def check_range(box, start, end, limit=None):
    """Seconds ``start .. end`` as samples ``(first, stop)`` inside the signal."""
    n, sr = box.n_samples, box.sr
    for key, v in (("start", start), ("end", end)):
        if not np.isfinite(v):
            raise ParameterError(f"{key}={v} must be a finite time in seconds")
    first, stop = int(round(start * sr)), int(round(end * sr))
    if not 0 <= first < stop <= n:
        raise ParameterError(f"the range {start:g}..{end:g} s is outside the signal "
                             f"(0..{n / sr:g} s) or empty")
    if box.store == "magnitude" and limit is not None and (stop - first) > limit * sr:
        raise ParameterError(f"the range {start:g}..{end:g} s is longer than {limit:g} s: "
                             "a magnitude container's phases are reconstructed in one piece")
    return first, stop


def channels_of(box, channel):
    """Rows of the container's channels to play: all of them for ``"mix"``."""
    if channel == "mix":
        return list(range(box.n_channels))
    if isinstance(channel, int) and 0 <= channel < box.n_channels:
        return [channel]
    raise ParameterError(f"channel={channel!r} does not exist: 0..{box.n_channels - 1} or 'mix'")


def segments(box, first, stop, channel="mix", band=None, iterations=DEFAULT_ITERATIONS,
             lock=None):
    """The samples ``first .. stop - 1``, resynthesized: yields float arrays (channels, n).

    ``lock`` (a ``threading.Lock``) is held while a segment is made: the
    container's transform keeps its synthesis buffers, which two threads must
    not use at once.
    """
    rows = channels_of(box, channel)
    band = band or Band()
    lock = lock or contextlib.nullcontext()
    if box.transform.mode == "periodic":
        with lock:
            y = _whole(box, rows, band, iterations)[:, first:stop]
        yield y
        return
    if box.store == "magnitude":
        with lock:
            y = _segment(box, first, stop, rows, band, iterations)
        yield y
        return
    sr = box.sr
    at, size = first, int(FIRST_SEGMENT_SECONDS * sr)
    while at < stop:
        end = min(stop, at + size)
        with lock:
            y = _segment(box, at, end, rows, band, iterations)
        yield y
        at, size = end, int(SEGMENT_SECONDS * sr)


def _whole(box, rows, band, iterations):
    t = box.transform
    c = box.to_coefficients()
    keep = None if band.everything else band.keep(t)
    groups = []
    for g, a in enumerate(c.groups):
        a = a[rows]
        if box.store == "magnitude" and t.groups[g].kind == "octave":
            a = a.astype(np.float32)
        if keep is not None:
            a[:, ~keep[g], :] = 0
        groups.append(a)
    c = Coefficients(t, c.n_samples, groups, firsts=c.firsts)
    if box.store == "magnitude":
        c = reconstruct(c, iterations=iterations)
    return c.inverse()


def _segment(box, first, stop, rows, band, iterations):
    t = box.transform
    a = (first - t.margin) // t.hop_max * t.hop_max
    b = stop + t.margin
    names = ["lowpass"] + list(range(t.n_octaves)) + ["highpass"]
    keep = None if band.everything else band.keep(t)
    groups, firsts = [], []
    for g, spec in enumerate(t.groups):
        lo, hi = -(-a // spec.hop), -(-b // spec.hop)
        frames = box.read_frames(names[g], lo, hi)[rows]
        if box.store == "complex" or spec.kind != "octave":
            frames = frames.astype(np.complex128 if spec.kind == "octave" else np.float64)
        else:
            frames = frames.astype(np.float32)
        if keep is not None:
            frames[:, ~keep[g], :] = 0
        groups.append(frames)
        firsts.append(lo - a // spec.hop)
    c = Coefficients(t, b - a, groups, firsts=firsts)
    if box.store == "magnitude":
        c = reconstruct(c, iterations=iterations)
    return c.inverse()[:, first - a:stop - a]


def wav_header(n_frames, channels, sr, fmt):
    """A RIFF/WAVE header for ``n_frames`` of 16-bit PCM or 32-bit float samples."""
    if fmt == "pcm16":
        tag, width, extra = 1, 2, b""
        fmt_chunk = struct.pack("<HHIIHH", tag, channels, sr, sr * channels * width,
                                channels * width, 8 * width)
    else:
        tag, width = 3, 4
        fmt_chunk = struct.pack("<HHIIHHH", tag, channels, sr, sr * channels * width,
                                channels * width, 8 * width, 0)
        extra = b"fact" + struct.pack("<II", 4, n_frames)
    data = n_frames * channels * width
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk + extra
            + b"data" + struct.pack("<I", data))
    return b"RIFF" + struct.pack("<I", len(body) + data) + body


def wav_bytes(samples, fmt):
    """Interleaved little-endian samples of a (channels, n) block."""
    x = np.asarray(samples).T
    if fmt == "pcm16":
        return np.round(np.clip(x, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    return x.astype("<f4").tobytes()
