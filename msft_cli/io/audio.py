"""Reading and writing audio files (the only module that imports soundfile).

Reading is by random access in blocks, so a file of any length is transformed
in bounded memory. Writing goes to a temporary name beside the target and is
renamed into place only when complete.
"""

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from msft_cli._files import AtomicWrite
from msft_cli.errors import AudioError

#: Extensions of the audio files msft picks up (any format libsndfile reads).
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".aifc", ".mp3",
                    ".w64", ".rf64", ".caf", ".au", ".opus")

_TRUNCATED = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
_STREAMING_SIZES = (0, 0xFFFFFFFF)  # placeholders written by tools that stream WAV

#: Frames decoded or encoded at a time (interleaved in a small buffer).
_READ_FRAMES = 1 << 16


class AudioSource:
    """An audio file open for block reads; use as a context manager.

    Parameters
    ----------
    path : str or Path
        Any file libsndfile reads, or ``"-"`` for standard input (copied to a
        temporary file first, since decoders need to seek).

    Attributes
    ----------
    path, name : the path given, and the name to report (``"<stdin>"`` for ``-``)
    sr, n_samples, channels : int
    subtype, format : str (libsndfile's names, e.g. ``"PCM_16"``, ``"WAV"``)

    Raises
    ------
    AudioError
        The file is missing, a folder, not audio, truncated or empty.
    """

    def __init__(self, path):
        self._tmp = None
        self.path = path
        self.name = "<stdin>" if str(path) == "-" else str(path)
        if str(path) == "-":
            fd, self._tmp = tempfile.mkstemp(prefix="msft-stdin-")
            with os.fdopen(fd, "wb") as fh:
                shutil.copyfileobj(sys.stdin.buffer, fh)
            path = self._tmp
        else:
            p = Path(path)
            if not p.exists():
                raise AudioError(f"{self.name}: no such file")
            if p.is_dir():
                raise AudioError(f"{self.name}: is a folder, not an audio file")
        try:
            self._file = sf.SoundFile(str(path))
        except (sf.SoundFileError, RuntimeError, OSError) as exc:
            self._cleanup()
            reason = str(exc).split(": ", 1)[-1] if ": " in str(exc) else str(exc)
            raise AudioError(f"{self.name}: not a readable audio file ({reason.strip()})") \
                from exc
        try:
            self._check()
        except AudioError:
            self.close()
            raise
        self.sr = self._file.samplerate
        self.n_samples = self._file.frames
        self.channels = self._file.channels
        self.subtype = self._file.subtype
        self.format = self._file.format

    def _check(self):
        info = self._file.extra_info
        for declared, actual in _TRUNCATED.findall(info):
            declared, actual = int(declared), int(actual)
            if declared > actual and declared not in _STREAMING_SIZES:
                raise AudioError(
                    f"{self.name}: truncated: the header announces {declared} bytes of "
                    f"audio data, the file holds {actual}")
        if self._file.frames <= 0:
            raise AudioError(f"{self.name}: has no samples")

    @property
    def duration(self):
        """Length in seconds."""
        return self.n_samples / self.sr

    def read(self, start, stop):
        """Samples ``start:stop`` as float64 (channels, stop - start); zeros outside the file.

        Raises
        ------
        AudioError
            The samples hold NaN or Inf, or the file ends early.
        """
        out = np.zeros((self.channels, stop - start))
        a, b = max(start, 0), min(stop, self.n_samples)
        if b <= a:
            return out
        try:
            self._file.seek(a)
        except (sf.SoundFileError, RuntimeError) as exc:
            raise AudioError(f"{self.name}: cannot be decoded ({exc})") from exc
        buf = np.empty((min(_READ_FRAMES, b - a), self.channels))  # interleaved, reused
        for at in range(a, b, _READ_FRAMES):
            k = min(_READ_FRAMES, b - at)
            try:
                data = self._file.read(k, out=buf[:k])
            except (sf.SoundFileError, RuntimeError) as exc:
                raise AudioError(f"{self.name}: cannot be decoded ({exc})") from exc
            if len(data) != k:
                raise AudioError(f"{self.name}: ends early: read {at + len(data)} of "
                                 f"{self.n_samples} samples")
            if not np.all(np.isfinite(data)):
                bad = at + int(np.flatnonzero(~np.isfinite(data).all(axis=1))[0])
                raise AudioError(f"{self.name}: holds NaN or Inf samples (first at sample "
                                 f"{bad}, {bad / self.sr:.3f} s)")
            out[:, at - start:at - start + k] = data.T
        return out

    def _cleanup(self):
        if self._tmp is not None:
            Path(self._tmp).unlink(missing_ok=True)
            self._tmp = None

    def close(self):
        self._file.close()
        self._cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def info(path):
    """Sample rate, length, channels, subtype and format of an audio file, as a dict."""
    with AudioSource(path) as src:
        return {"sr": src.sr, "n_samples": src.n_samples, "channels": src.channels,
                "subtype": src.subtype, "format": src.format, "duration": src.duration}


def read(path):
    """A whole file as float64 ``(channels, samples)`` and its sample rate."""
    with AudioSource(path) as src:
        return src.read(0, src.n_samples), src.sr


def _format_for(path):
    ext = Path(path).suffix.lower().lstrip(".")
    formats = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG", "aif": "AIFF", "aiff": "AIFF",
               "aifc": "AIFF", "w64": "W64", "rf64": "RF64", "caf": "CAF", "au": "AU",
               "mp3": "MP3"}
    if ext not in formats:
        raise AudioError(f"{path}: unknown audio extension {'.' + ext if ext else '(none)'}: "
                         f"use one of .{', .'.join(sorted(formats))}")
    return formats[ext]


#: Sample formats a resynthesis may inherit from its source (codecs such as MP3 may not).
_PLAIN_SUBTYPES = ("PCM_S8", "PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE")


def subtype_fits(path, subtype):
    """Whether a source's ``subtype`` can be kept when writing files named like ``path``.

    Plain PCM and float sample formats carry over, and so does a codec into its
    own format (Vorbis into .ogg); a codec into another format (MP3 samples into
    .wav) does not, and the output format's default is used instead.
    """
    try:
        fmt = _format_for(path)
    except AudioError:
        return False
    return sf.check_format(fmt, subtype) and (subtype in _PLAIN_SUBTYPES
                                              or subtype == sf.default_subtype(fmt))


class AudioWriter:
    """Write audio in blocks to a temporary name, renamed to ``path`` on success.

    Parameters
    ----------
    path : str or Path
        Target file; its extension picks the format.
    sr, channels : int
    subtype : str, optional
        libsndfile subtype (e.g. ``"PCM_16"``, ``"FLOAT"``); default: the format's.

    On an exception inside the ``with`` block the temporary file is removed and
    nothing appears under ``path``.
    """

    def __init__(self, path, sr, channels, subtype=None):
        self.path = Path(path)
        fmt = _format_for(self.path)
        if subtype is not None and not sf.check_format(fmt, subtype):
            raise AudioError(f"{self.path}: subtype {subtype!r} is not available for "
                             f"{fmt} files")
        self._out = AtomicWrite(self.path, AudioError)
        try:
            self._file = sf.SoundFile(self._out.tmp, "w", sr, channels, subtype, format=fmt)
        except (OSError, sf.SoundFileError, RuntimeError) as exc:
            raise self._out.failed(exc) from exc

    def write(self, block):
        """Append samples, shaped (channels, samples)."""
        block = np.asarray(block)
        for a in range(0, block.shape[1], _READ_FRAMES):  # interleaved a piece at a time
            self._file.write(np.ascontiguousarray(block[:, a:a + _READ_FRAMES].T))

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self._out.finish(self._file, failed=exc_type is not None)
