"""File to container and back: the library calls behind ``msft analyze`` and ``msft resynth``.

Both stream in blocks (bounded memory for any length) and write atomically.
"""

import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from msft_cli import phase
from msft_cli.engine.transform import MSFT
from msft_cli.errors import AudioError, ParameterError
from msft_cli.io.audio import AudioSource, AudioWriter, subtype_fits
from msft_cli.io.container.reader import load
from msft_cli.io.container.writer import Writer
from msft_cli.io.resample import (
    DEFAULT_QUALITY,
    AudioReader,
    check_quality,
    check_sr,
    resample_blocks,
)


@dataclass
class Report:
    """What a conversion did: paths, duration, wall time, and measured figures."""

    input: str
    output: Path
    duration: float
    seconds: float
    extra: dict = field(default_factory=dict)

    @property
    def realtime_factor(self):
        """Audio seconds processed per wall-clock second."""
        return self.duration / self.seconds if self.seconds > 0 else float("inf")


def format_realtime(factor):
    """A realtime factor as a summary line gives it: ``"59x"`` from 10 up, ``"4.2x"`` from
    1, two significant figures below (``"0.38x"``), never ``"0x"``."""
    if factor >= 10:
        return f"{factor:.0f}x"
    if factor >= 1:
        return f"{factor:.1f}x"
    return f"{factor:.2g}x"


def default_output(path, suffix):
    """``path`` with a new suffix, in the same folder."""
    return Path(path).with_suffix(suffix)


def _refuse_overwriting(output, *inputs):
    """An output must not replace one of the files it is made from."""
    for path in inputs:
        if path is not None and str(path) != "-" and output.exists() and Path(path).exists() \
                and output.resolve() == Path(path).resolve():
            raise ParameterError(f"{output}: is also an input: choose another output name")


#: What analysis holds besides the transform's buffers (the block read, the frames
#: converted for storage, HDF5's chunk cache), as a factor on them (measured: 1.4x to 1.9x).
_MEMORY_FACTOR = 2


def available_memory():
    """Bytes this process may still allocate: the least of the system's available memory,
    its cgroup's limit (what Slurm and containers enforce) and ``RLIMIT_AS``; None if
    none is known."""
    limits = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                limits.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        top = Path("/sys/fs/cgroup")
        lines = Path("/proc/self/cgroup").read_text().strip().split("\n")
        own = next(line for line in lines if line.startswith("0::")).split(":", 2)[2]
        folder = top / own.lstrip("/")
        maximum = (folder / "memory.max").read_text().strip()
        if maximum != "max":
            # the page cache counts in memory.current but is reclaimed before the limit bites
            stat = dict(line.split() for line in (folder / "memory.stat").read_text()
                        .splitlines() if line.startswith("inactive_file "))
            limits.append(int(maximum) - int((folder / "memory.current").read_text())
                          + int(stat.get("inactive_file", 0)))
    except (OSError, ValueError, IndexError, StopIteration):
        pass
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmSize:"):
                    limits.append(soft - int(line.split()[1]) * 1024)
        except (OSError, ValueError, IndexError):
            pass
    return max(0, min(limits)) if limits else None


def _check_memory(src, transform):
    """Refuse, before reading, a file whose transform needs more memory than is left."""
    need = _MEMORY_FACTOR * transform.working_memory(src.n_samples, src.channels)
    free = available_memory()
    if free is not None and need > free:
        raise AudioError(f"{src.name}: needs about {need / 2**20:.0f} MiB to transform "
                         f"({src.channels} channel(s) at {src.sr} Hz), more than the "
                         f"{free / 2**20:.0f} MiB available")


def analyze(path, output=None, transform=None, dtype=None, compression="none",
            progress=None, extra_attrs=None, store="complex", sr=None, mono=False,
            offset=0.0, duration=None, resample_quality=DEFAULT_QUALITY, **params):
    """Transform an audio file into a container.

    Parameters
    ----------
    path : str or Path
        Any file libsndfile reads, or ``"-"`` for standard input.
    output : str or Path, optional
        Container to write. Default: ``path`` with the suffix ``.h5``
        (required for standard input).
    transform : MSFT, optional
        A transform to use (its sample rate must be the signal's: ``sr``, or
        the file's). Default: one made from ``params`` at that rate.
    dtype : {"complex64", "complex128", "complex32"} or {"float16", "float32"}
        Default: complex64, or float16 with ``store="magnitude"``. complex32
        stores float16 real and imaginary parts: half of complex64's size.
    compression : {"none", "gzip", "lzf"}
    progress : callable, optional
        ``progress(done, total)`` in samples, called as blocks complete.
    extra_attrs : dict, optional
        More root attributes for the container (see :class:`msft_cli.io.container.Writer`).
    store : {"complex", "magnitude"}
        ``"magnitude"`` writes the octaves' magnitudes only (the real bands as
        they are): 4x (float16) or 2x (float32) smaller than complex64;
        :func:`resynth` reconstructs the phases.
    sr : int, optional
        Resample to this rate (1 .. 768000 Hz) while reading, streamed with
        soxr in bounded memory. Default: the file's rate.
    mono : bool
        Downmix to one channel (the mean of the channels).
    offset, duration : float, optional
        Analyse an excerpt: ``duration`` seconds (default: to the end) from
        ``offset`` seconds into the file, read by seeking.
    resample_quality : {"QQ", "LQ", "MQ", "HQ", "VHQ"}
        soxr's quality when resampling (default ``"HQ"``, librosa's default).
        The container records the source's rate, channels, excerpt and this
        quality (see docs/FORMAT.md).
    **params
        Transform parameters (``fmin``, ``bins_per_octave``, ``n_octaves``,
        ``fmax``, ``tuning``, ``window``, ``mode``, ``block_size``,
        ``threads``, ``planner``) when ``transform`` is not given.

    Returns
    -------
    Report
        With ``extra["size"]``, the container's size in bytes.

    Examples
    --------
    >>> from msft_cli import analyze, load
    >>> report = analyze("sample_audio/house_beat.wav", "/tmp/house.h5")  # doctest: +SKIP
    >>> load("/tmp/house.h5").to_audio().shape  # doctest: +SKIP
    (2, 352800)
    """
    if str(path) == "-" and output is None:
        raise ParameterError("output is required when reading standard input")
    output = Path(output) if output is not None else default_output(path, ".h5")
    _refuse_overwriting(output, path)
    began = time.perf_counter()
    with AudioReader(path, sr, mono, offset, duration, resample_quality) as src:
        if transform is None:
            try:
                transform = MSFT(src.sr, **params)
            except ParameterError as exc:
                raise ParameterError(f"{src.name}: {exc}") from None
        elif params:
            raise ParameterError("give a transform or transform parameters, not both")
        elif transform.sr != src.sr:
            raise ParameterError(f"{src.name}: sample rate {src.sr} Hz differs from the "
                                 f"transform's {transform.sr} Hz")
        _check_memory(src, transform)
        source = {"name": Path(src.name).name, "format": src.format, "subtype": src.subtype,
                  **src.describe()}
        with Writer(output, transform, src.n_samples, src.channels, dtype, compression,
                    source, extra_attrs=extra_attrs, store=store) as writer:
            done = 0
            # as stored; magnitudes (float16/float32) from complex64: within a float32 rounding
            frames_dtype = writer.dtype if store == "complex" else "complex64"
            for g, first, frames in transform.iter_forward(src.read, src.n_samples,
                                                           src.channels, frames_dtype):
                writer.write(g, first, frames)
                if progress is not None and g == len(transform.groups) - 1:
                    hop = transform.groups[g].hop
                    done = min(src.n_samples, max(done, (first + frames.shape[2]) * hop))
                    progress(done, src.n_samples)
        duration = src.duration
    return Report(str(path), output, duration, time.perf_counter() - began,
                  {"size": output.stat().st_size})


def resynth(path, output=None, subtype=None, reference=None, progress=None, transform=None,
            iterations=phase.DEFAULT_ITERATIONS, phase_init="pghi", phase_progress=None,
            sr=None, resample_quality=DEFAULT_QUALITY):
    """Audio back from a container, written atomically.

    Parameters
    ----------
    path : str or Path
        A container written by :func:`analyze` or :func:`msft_cli.save`.
    output : str or Path, optional
        Audio file to write; its extension picks the format. Default: the
        container's name with ``.resynth.wav``, so the source is never overwritten.
    subtype : str, optional
        libsndfile subtype, e.g. ``"PCM_16"``, ``"PCM_24"``, ``"FLOAT"``. Default:
        the source's subtype when the output format allows it, else the format's default.
    reference : str or Path, optional
        The original audio: the SNR of the resynthesis against it (before
        quantization to ``subtype``) goes to ``extra["snr_db"]``. It must have
        the output's rate, channels and length.
    progress : callable, optional
        ``progress(done, total)`` in samples.
    transform : MSFT, optional
        A transform with the container's parameters whose FFTW plans to reuse
        (batches of files); ParameterError if its parameters differ.
    iterations, phase_init : int, str
        Magnitude containers only: fast Griffin-Lim iterations (default
        :data:`msft_cli.phase.DEFAULT_ITERATIONS`) and the initial phases (one of
        :data:`msft_cli.phase.INITS`), see
        :func:`msft_cli.phase.reconstruct`. The spectral convergence reached
        goes to ``extra["spectral_convergence_db"]``.
    phase_progress : callable, optional
        ``phase_progress(done, iterations)`` after each iteration.
    sr : int, optional
        Write at this rate, resampled on the way out with soxr (e.g. the
        source's rate, the container's ``source_rate`` attribute, for a
        container analysed with ``sr``). Default: the container's rate.
    resample_quality : {"QQ", "LQ", "MQ", "HQ", "VHQ"}
        soxr's quality with ``sr``.

    Returns
    -------
    Report
    """
    output = Path(output) if output is not None else Path(path).with_suffix(".resynth.wav")
    _refuse_overwriting(output, path, reference)
    sr = check_sr(sr)
    check_quality(resample_quality)
    began = time.perf_counter()
    with load(path) as c:
        if transform is not None:
            if transform.to_params() != c.transform.to_params():
                raise ParameterError(f"{path}: the transform given has other parameters than "
                                     "the container's")
            c.transform = transform
        if subtype is None and c.source["subtype"]:
            subtype = c.source["subtype"] if subtype_fits(output, c.source["subtype"]) else None
        out_sr = c.sr if sr is None else sr
        n_out = c.n_samples if out_sr == c.sr else int(c.n_samples * out_sr / c.sr + 0.5)
        ref = AudioSource(reference) if reference is not None else None
        try:
            if ref is not None and (ref.channels, ref.n_samples) != (c.n_channels, n_out):
                raise AudioError(
                    f"{ref.name}: has {ref.channels} channel(s) x {ref.n_samples} samples, "
                    f"the container {c.n_channels} x {c.n_samples}: not its original"
                    if out_sr == c.sr else
                    f"{ref.name}: has {ref.channels} channel(s) x {ref.n_samples} samples, "
                    f"the output at {out_sr} Hz {c.n_channels} x {n_out}: not its original")
            signal = error = 0.0
            if c.store == "complex":
                blocks, extra = c.iter_audio(), {}
            else:
                blocks, extra = phase.resynthesize(c, iterations, phase_init, phase_progress)
            blocks = resample_blocks(blocks, c.sr, out_sr, c.n_channels, c.n_samples,
                                     resample_quality)
            with AudioWriter(output, out_sr, c.n_channels, subtype) as writer:
                for start, block in blocks:
                    writer.write(block)
                    if ref is not None:
                        x = ref.read(start, start + block.shape[1])
                        signal += float(np.sum(x * x))
                        error += float(np.sum((x - block) ** 2))
                    if progress is not None:
                        progress(start + block.shape[1], n_out)
        finally:
            if ref is not None:
                ref.close()
        duration = c.duration
    if ref is not None:
        extra["snr_db"] = (float("inf") if error == 0 else
                           10 * np.log10(signal / error) if signal > 0 else float("-inf"))
    return Report(str(path), output, duration, time.perf_counter() - began, extra)
