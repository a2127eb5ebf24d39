"""Audio as a corpus wants it: resampled, downmixed, cut to an excerpt (soxr's only importer).

:class:`AudioReader` wraps :class:`msft_cli.io.audio.AudioSource` and gives the
same interface (``sr``, ``n_samples``, ``channels``, ``read(start, stop)``) for
the signal after three optional steps, applied in this order:

1. an excerpt: ``offset`` and ``duration`` seconds of the source, read by
   seeking (libsndfile seeks in WAV, FLAC, OGG and MP3 without decoding what
   comes before);
2. a downmix to mono: the mean of the channels;
3. resampling to ``sr`` with soxr's streaming resampler, fed in blocks, so
   memory stays bounded whatever the file's length. The result equals
   ``soxr.resample`` of the whole excerpt in one call (both run the same
   filter over the same samples).

:func:`read_audio` reads a whole (excerpt of a) file, :func:`stream_audio`
iterates over it in blocks: the calls librosa users know as ``librosa.load``
and ``librosa.stream``.
"""

import math
import numbers

import numpy as np
import soxr

from msft_cli._checks import choice
from msft_cli.errors import ParameterError
from msft_cli.io.audio import AudioSource

#: soxr's quality settings, from quick to very high.
QUALITIES = ("QQ", "LQ", "MQ", "HQ", "VHQ")
#: The default: soxr's high quality, as ``librosa.load`` uses ("soxr_hq").
DEFAULT_QUALITY = "HQ"
#: The highest sample rate accepted (the highest any common converter runs at).
MAX_SR = 768000

#: Source samples decoded and resampled at a time.
_CHUNK = 1 << 16
#: Output samples a restarted resampler runs before those asked for (its filter's start
#: is forgotten after about 1000 at soxr's HQ; see AudioReader._seek).
_WARM_UP = 1 << 13
#: A read this many output samples beyond what is held restarts the resampler near it
#: rather than resampling everything between.
_SEEK_AHEAD = 1 << 18


def check_sr(sr, name="sr"):
    """``sr`` as an int, or a ParameterError: a whole number of Hz from 1 to :data:`MAX_SR`.

    ``None`` passes (no resampling). Integral floats (``22050.0``) are accepted.
    """
    if sr is None:
        return None
    if isinstance(sr, bool) or not isinstance(sr, numbers.Real):
        raise TypeError(f"{name} must be a number of Hz, not {type(sr).__name__}")
    if not (np.isfinite(sr) and sr == int(sr) and 1 <= sr <= MAX_SR):
        raise ParameterError(f"{name}={sr!r} must be a whole number of Hz from 1 to {MAX_SR}")
    return int(sr)


def check_excerpt(offset, duration):
    """``(offset, duration)`` as floats (duration may be None), or a ParameterError."""
    for name, value in (("offset", offset), ("duration", duration)):
        if value is None and name == "duration":
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if not (np.isfinite(offset) and offset >= 0):
        raise ParameterError(f"offset={offset!r} must be at least 0 seconds")
    if duration is not None and not (np.isfinite(duration) and duration > 0):
        raise ParameterError(f"duration={duration!r} must be more than 0 seconds")
    return float(offset), None if duration is None else float(duration)


def check_quality(quality):
    """``quality`` if it is one of :data:`QUALITIES`, else a ParameterError."""
    return choice("quality", quality, QUALITIES)


class AudioReader:
    """An audio file read as an excerpt, downmixed and resampled; use as a context manager.

    Parameters
    ----------
    path : str or Path
        Any file libsndfile reads, or ``"-"`` for standard input.
    sr : int, optional
        Sample rate to resample to (1 .. 768000 Hz). Default: the file's.
    mono : bool
        Downmix to one channel: the mean of the channels.
    offset : float
        Start of the excerpt, in seconds of the source (rounded to the
        nearest source sample). Must lie before the end of the file.
    duration : float, optional
        Length of the excerpt in seconds (rounded to the nearest source
        sample), cut short by the end of the file. Default: to the end.
    quality : {"QQ", "LQ", "MQ", "HQ", "VHQ"}
        soxr's resampling quality (default ``"HQ"``, as librosa's default).

    Attributes
    ----------
    name, path, subtype, format : as :class:`~msft_cli.io.audio.AudioSource`
    sr, n_samples, channels : int
        The signal as read: after the excerpt, downmix and resampling.
    source_sr, source_channels : int
        The file's own.
    start, count : int
        The excerpt in source samples: ``start .. start + count``.
    resampled : bool
        Whether ``sr`` differs from the source's rate.

    Raises
    ------
    ParameterError
        A bad ``sr``, ``offset``, ``duration`` or ``quality``, or an offset
        at or past the end of the file.
    AudioError
        As :class:`~msft_cli.io.audio.AudioSource`.

    Examples
    --------
    >>> from msft_cli.io.resample import AudioReader
    >>> with AudioReader("sample_audio/house_beat.wav", sr=22050, mono=True,
    ...                  offset=1.0, duration=2.0) as r:       # doctest: +SKIP
    ...     y = r.read(0, r.n_samples)
    >>> y.shape                                                # doctest: +SKIP
    (1, 44100)
    """

    def __init__(self, path, sr=None, mono=False, offset=0.0, duration=None,
                 quality=DEFAULT_QUALITY):
        sr = check_sr(sr)
        offset, duration = check_excerpt(offset, duration)
        self.quality = check_quality(quality)
        if not isinstance(mono, (bool, np.bool_)):
            raise TypeError(f"mono must be True or False, not {type(mono).__name__}")
        self._src = AudioSource(path)
        try:
            s = self._src
            self.path, self.name, self.subtype, self.format = s.path, s.name, s.subtype, s.format
            self.source_sr, self.source_channels = s.sr, s.channels
            self.start = int(round(offset * s.sr))
            if self.start >= s.n_samples:
                raise ParameterError(f"{s.name}: offset={offset:g} s is past the end of the "
                                     f"file ({s.duration:.3f} s)")
            self.count = s.n_samples - self.start
            if duration is not None:
                self.count = max(1, min(self.count, int(round(duration * s.sr))))
            self.offset, self.excerpt_duration = offset, duration
            self.mono = bool(mono)
            self.channels = 1 if self.mono else s.channels
            self.sr = s.sr if sr is None else sr
            self.resampled = self.sr != s.sr
            # soxr's output length for ``count`` input samples (its one-shot rounding)
            self.n_samples = (int(self.count * self.sr / s.sr + 0.5) if self.resampled
                              else self.count)
            if self.n_samples < 1:
                raise ParameterError(f"{s.name}: {self.count} samples at {s.sr} Hz give none "
                                     f"at sr={self.sr}")
            self._reset()
        except BaseException:
            self._src.close()
            raise

    @property
    def duration(self):
        """Length of the signal as read, in seconds."""
        return self.n_samples / self.sr

    def describe(self):
        """What was done to the source, as the container records it (see docs/FORMAT.md)."""
        return {"sample_rate": self.source_sr, "n_channels": self.source_channels,
                "start": self.start, "n_samples": self.count,
                "resample_quality": self.quality if self.resampled else "",
                "downmix": "mean" if self.mono and self.source_channels > 1 else ""}

    def _source(self, a, b):
        """Excerpt samples ``a .. b`` (source rate, 0 = the excerpt's start), downmixed."""
        x = self._src.read(self.start + a, self.start + b)
        if self.mono and x.shape[0] > 1:
            x = x.mean(axis=0, keepdims=True)
        return x

    def _reset(self):
        self._fed = 0  # excerpt samples given to the resampler
        self._lo = 0   # output sample held at _buf[:, 0]
        self._buf = np.zeros((self.channels, 0))
        self._stream = (soxr.ResampleStream(self.source_sr, self.sr, self.channels,
                                            dtype="float64", quality=self.quality)
                        if self.resampled else None)

    def _seek(self, a):
        """Restart the resampler shortly before output sample ``a`` (random access).

        The stream restarts at a source sample where an output sample falls
        exactly (a multiple of ``source_sr / gcd``), :data:`_WARM_UP` output
        samples early: soxr's filter has forgotten its start by then, and the
        samples from ``a`` on equal those of one stream from the excerpt's start
        to float32 rounding (tested).
        """
        g = math.gcd(self.source_sr, self.sr)
        step_in, step_out = self.source_sr // g, self.sr // g
        k = max(0, (int(a) - _WARM_UP) // step_out)  # restart at input k * step_in
        self._reset()
        if k:
            self._fed, self._lo = k * step_in, k * step_out

    def _feed(self):
        """The next chunk of the excerpt, resampled ``(channels, samples)``."""
        k = min(_CHUNK, self.count - self._fed)
        x = self._source(self._fed, self._fed + k)
        self._fed += k
        y = self._stream.resample_chunk(np.ascontiguousarray(x.T),
                                        last=bool(self._fed >= self.count))
        return y.T

    def read(self, start, stop):
        """Samples ``start:stop`` as float64 ``(channels, stop - start)``; zeros outside.

        Reads are cheapest in increasing order (as a transform makes them). A
        read before what the resampler holds, or far after it, restarts it a
        little before ``start`` (random crops cost their own length, not the
        file's), equal to one stream over the whole excerpt to float32 rounding.
        """
        out = np.zeros((self.channels, stop - start))
        a, b = max(start, 0), min(stop, self.n_samples)
        if b <= a:
            return out
        if not self.resampled:
            out[:, a - start:b - start] = self._source(a, b)
            return out
        if a < self._lo or a > self._lo + self._buf.shape[1] + _SEEK_AHEAD:
            self._seek(a)
        buf, lo = self._buf, self._lo
        while lo + buf.shape[1] <= a and self._fed < self.count:  # all before a: skip it
            lo += buf.shape[1]
            buf = self._feed()
        cut = min(max(0, a - lo), buf.shape[1])
        pieces, lo = [buf[:, cut:]], lo + cut
        held = lo + pieces[0].shape[1]
        while held < b and self._fed < self.count:
            pieces.append(self._feed())
            held += pieces[-1].shape[1]
        # joined once per read, not once per chunk; what is before ``a`` is forgotten
        self._buf = np.concatenate(pieces, axis=1) if len(pieces) > 1 else pieces[0]
        self._lo = lo
        got = min(b, held)
        if got > a:
            out[:, a - start:got - start] = self._buf[:, a - lo:got - lo]
        return out

    def blocks(self, block_size=1 << 16):
        """Yield ``(start, (channels, samples))`` blocks covering the signal, in order."""
        for at in range(0, self.n_samples, block_size):
            yield at, self.read(at, min(at + block_size, self.n_samples))

    def close(self):
        self._src.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_audio(path, sr=None, mono=False, offset=0.0, duration=None, dtype="float32",
               quality=DEFAULT_QUALITY):
    """A whole file (or an excerpt), resampled and downmixed as asked, like ``librosa.load``.

    Parameters
    ----------
    path : str or Path
    sr, mono, offset, duration, quality
        As :class:`AudioReader`.
    dtype : {"float32", "float64"}

    Returns
    -------
    y : ndarray ``(channels, samples)``
        ``(1, samples)`` with ``mono=True``.
    sr : int
        Its sample rate.

    Examples
    --------
    >>> from msft_cli import read_audio
    >>> y, sr = read_audio("sample_audio/house_beat.wav", sr=22050, mono=True)  # doctest: +SKIP
    >>> y.shape, y.dtype, sr                                                    # doctest: +SKIP
    ((1, 176400), dtype('float32'), 22050)
    """
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise ParameterError(f"dtype={dtype!r} must be float32 or float64")
    with AudioReader(path, sr, mono, offset, duration, quality) as r:
        return r.read(0, r.n_samples).astype(dtype, copy=False), r.sr


def stream_audio(path, block_size=1 << 16, sr=None, mono=False, offset=0.0, duration=None,
                 dtype="float32", quality=DEFAULT_QUALITY):
    """Iterate over a file in blocks of ``block_size`` samples (at ``sr``), in bounded memory.

    Yields ``(start, y)``: the first sample's index and ``(channels, samples)``
    in ``dtype``; the blocks join into :func:`read_audio`'s array.
    """
    if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) \
            or block_size < 1:
        raise ParameterError(f"block_size={block_size!r} must be a positive integer")
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise ParameterError(f"dtype={dtype!r} must be float32 or float64")
    with AudioReader(path, sr, mono, offset, duration, quality) as r:
        for at, y in r.blocks(block_size):
            yield at, y.astype(dtype, copy=False)


def resample_blocks(blocks, sr_in, sr_out, channels, n_samples, quality=DEFAULT_QUALITY):
    """Resample a stream of ``(start, (channels, samples))`` blocks, in order, with soxr.

    Yields ``(start, block)`` at ``sr_out``: ``round(n_samples * sr_out / sr_in)``
    samples in all, as ``soxr.resample`` of the whole signal gives them.
    """
    sr_in, sr_out = check_sr(sr_in, "sr_in"), check_sr(sr_out)
    check_quality(quality)
    if sr_in == sr_out:
        yield from blocks
        return
    stream = soxr.ResampleStream(sr_in, sr_out, channels, dtype="float64", quality=quality)
    total = int(n_samples * sr_out / sr_in + 0.5)
    done = 0
    for start, block in blocks:
        last = start + block.shape[1] >= n_samples
        y = stream.resample_chunk(np.ascontiguousarray(block.T, dtype=np.float64),
                                  last=bool(last)).T[:, :total - done]
        if y.shape[1]:
            yield done, y
            done += y.shape[1]
        if last:
            break
    if done < total:  # soxr gave fewer than its one-shot rounding: pad with silence
        yield done, np.zeros((channels, total - done))
