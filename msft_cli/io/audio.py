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

from msft_cli._files import AtomicWrite, check_regular
from msft_cli.errors import AudioError
from msft_cli.io.limits import (  # noqa: F401 -- MAX_* are also this module's
    MAX_CHANNELS,
    MAX_SAMPLE,
    MAX_SAMPLE_RATE,
    MAX_SAMPLES,
    MIN_SAMPLE_RATE,
)

#: Extensions of the audio files msft picks up (any format libsndfile reads).
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".aifc", ".mp3",
                    ".w64", ".rf64", ".caf", ".au", ".opus")


# a data chunk shorter than its header says: WAV's ``data``, AIFF's ``SSND``, AU's size
_TRUNCATED = re.compile(r"^\s*(?:data|SSND|Data Size)\s*:\s*(\d+)\s*\(should be (\d+)\)",
                        re.MULTILINE)
# frame counts a header declares (AIFF's COMM chunk, RF64's ds64 chunk)
_DECLARED_FRAMES = re.compile(r"^\s*Frames\s*:\s*(\d+)\s*$", re.MULTILINE)
_STREAMING_SIZES = (0, 0xFFFFFFFF)  # placeholders written by tools that stream WAV

#: Frames decoded or encoded at a time (interleaved in a small buffer).
_READ_FRAMES = 1 << 16
#: The longest file msft reads: 24 hours at the highest rate.
_MAX_FRAMES = MAX_SAMPLES


#: Bytes of trailing tags and padding allowed beyond what a declared length can take.
_LENGTH_SLACK = 1 << 14


def _flac_audio_start(fh):
    """Offset of a FLAC file's first audio frame (after its metadata blocks), or None."""
    if fh.read(4) != b"fLaC":
        return None
    at = 4
    for _ in range(1024):
        head = fh.read(4)
        if len(head) < 4:
            return None
        at += 4 + int.from_bytes(head[1:4], "big")
        fh.seek(at)
        if head[0] & 0x80:  # the last metadata block
            return at
    return None


def _id3_end(fh):
    """Offset after an MP3 file's ID3v2 tag (0 without one)."""
    head = fh.read(10)
    if len(head) == 10 and head[:3] == b"ID3":
        size = 0
        for byte in head[6:10]:
            size = (size << 7) | (byte & 0x7F)
        return 10 + size + (10 if head[5] & 0x10 else 0)
    return 0


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
            check_regular(path, AudioError, "an audio file", self.name)
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
        f = self._file
        # bounds first: nothing below allocates for a channel or a second of audio
        if not MIN_SAMPLE_RATE <= f.samplerate <= MAX_SAMPLE_RATE:
            raise AudioError(f"{self.name}: sample rate {f.samplerate} Hz is outside what msft "
                             f"supports ({MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz)")
        if not 1 <= f.channels <= MAX_CHANNELS:
            raise AudioError(f"{self.name}: {f.channels} channels: msft supports 1 to "
                             f"{MAX_CHANNELS}")
        try:
            info = f.extra_info
        except (sf.SoundFileError, RuntimeError, UnicodeDecodeError):
            info = ""
        for declared, actual in _TRUNCATED.findall(info):
            declared, actual = int(declared), int(actual)
            if declared > actual and declared not in _STREAMING_SIZES:
                raise AudioError(
                    f"{self.name}: truncated: the header announces {declared} bytes of "
                    f"audio data, the file holds {actual}")
        if f.frames <= 0:
            raise AudioError(f"{self.name}: has no samples")
        for declared in _DECLARED_FRAMES.findall(info):
            if f.frames < int(declared) and f.format in ("AIFF", "RF64"):
                raise AudioError(f"{self.name}: truncated: the header announces {declared} "
                                 f"samples, the file holds {f.frames}")
        if f.format == "W64":
            self._check_w64(info)
        if f.format == "OGG" and ("lacks an end-of-stream" in info
                                  or "Junk after the last page" in info):
            raise AudioError(f"{self.name}: truncated: the Ogg stream ends inside a page or "
                             "without its last one (fewer samples decode than were encoded)")
        if f.format in ("FLAC", "MP3"):
            self._check_declared_length(f)
        if f.frames > _MAX_FRAMES:
            raise AudioError(f"{self.name}: declares {f.frames} samples, more than msft "
                             f"reads ({_MAX_FRAMES}, 24 hours at {MAX_SAMPLE_RATE} Hz)")

    def _check_declared_length(self, f):
        """A FLAC ``STREAMINFO`` or an MP3 Xing/Info header that declares fewer samples than
        the stream holds (decoders stop at the declared count): more audio bytes than that
        many samples can take, even stored verbatim (FLAC) or at 640 kbit/s (MP3)."""
        try:
            with open(f.name, "rb") as fh:
                start = (_flac_audio_start(fh) if f.format == "FLAC" else _id3_end(fh))
                size = os.fstat(fh.fileno()).st_size
        except (OSError, ValueError):
            return
        if start is None:
            return
        frames = f.frames
        if f.format == "FLAC":  # 4 bytes a sample verbatim; a frame header per 16 samples
            most = frames * f.channels * 4 + (frames // 16 + 1) * (32 + 4 * f.channels)
        else:  # 640 kbit/s, free format's ceiling, and one frame more
            most = frames / f.samplerate * 80000 + 2 * 2881
        audio = size - start
        if audio > most + _LENGTH_SLACK:
            raise AudioError(f"{self.name}: its header declares {frames} samples, but the "
                             f"file holds {audio} bytes of audio, more than that many can "
                             "take (a damaged length)")

    def _check_w64(self, info):
        """A W64 ``data`` chunk longer than the file (libsndfile says nothing)."""
        size = re.search(r"^data\s*:\s*(\d+)\s*$", info, re.MULTILINE)
        align = re.search(r"^\s*Block Align\s*:\s*(\d+)", info, re.MULTILINE)
        if size and align:
            declared = int(size.group(1)) - 24  # the chunk's size counts its 24-byte header
            held = self._file.frames * int(align.group(1))
            if declared >= held + 8 + int(align.group(1)):  # beyond padding to 8 bytes
                raise AudioError(f"{self.name}: truncated: the header announces {declared} "
                                 f"bytes of audio data, the file holds {held}")

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
            peak = float(np.max(np.abs(data)))  # NaN if any is NaN
            if not peak <= MAX_SAMPLE:
                self._refuse_samples(data, at)
            out[:, at - start:at - start + k] = data.T
        return out

    def _refuse_samples(self, data, at):
        """NaN, Inf, or samples too large to store: an AudioError naming the first."""
        if not np.all(np.isfinite(data)):
            bad = at + int(np.flatnonzero(~np.isfinite(data).all(axis=1))[0])
            raise AudioError(f"{self.name}: holds NaN or Inf samples (first at sample "
                             f"{bad}, {bad / self.sr:.3f} s)")
        bad = at + int(np.flatnonzero((np.abs(data) > MAX_SAMPLE).any(axis=1))[0])
        raise AudioError(f"{self.name}: holds samples too large to store (first at sample "
                         f"{bad}, {bad / self.sr:.3f} s: magnitude above {MAX_SAMPLE:g}, "
                         "full scale being 1)")

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
