"""A picture of a container, an audio file or a model: inputs to raster to figure."""

import inspect
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from msft_cli._checks import choice
from msft_cli._files import AtomicWrite
from msft_cli.convert import Report, analyze
from msft_cli.engine.coefficients import Coefficients
from msft_cli.engine.transform import KEYWORDS
from msft_cli.errors import AudioError, ContainerError, ParameterError
from msft_cli.io.audio import info as audio_info
from msft_cli.io.container.reader import Container, load
from msft_cli.io.resample import check_sr
from msft_cli.render.figure import Y_AXES, _colormap, _draw_picture, _draw_raw, _Layout
from msft_cli.render.inputs import CONTAINER_EXTENSIONS, _image_format, input_kind
from msft_cli.render.raster import (
    FLOOR_DB,
    _analysis_fmin,
    _channel,
    _Frames,
    _pixels,
    _raster,
    _time_range,
    raster,
)

#: Size of a picture when no width or height is given, in pixels.
DEFAULT_WIDTH, DEFAULT_HEIGHT = 1200, 600

#: Transform parameters accepted for audio inputs (``fmin``/``fmax`` are render's own).
_TRANSFORM_PARAMS = tuple(k for k in KEYWORDS if k not in ("fmin", "fmax"))


def _write_atomically(path, write):
    """Call ``write(tmp)`` on a temporary name beside ``path``, then rename it to ``path``."""
    with AtomicWrite(path, ContainerError) as out:
        write(out.tmp)


def _prepare(top_db, max_db, cmap, y_axis, raw, width, height, dpi, params):
    """Check the options that do not depend on the input; the colormap and the geometry."""
    unknown = sorted(set(params) - set(_TRANSFORM_PARAMS))
    if unknown:
        raise TypeError(f"render() got an unexpected keyword argument {unknown[0]!r}")
    choice("y_axis", y_axis, Y_AXES)
    top_db = float(top_db)
    if not (np.isfinite(top_db) and top_db > 0):
        raise ParameterError(f"top_db={top_db:g} must be a positive number of dB")
    if max_db is not None and not np.isfinite(float(max_db)):
        raise ParameterError(f"max_db={max_db} must be a finite level in dBFS")
    dpi = float(dpi)
    if not (np.isfinite(dpi) and dpi > 0):
        raise ParameterError(f"dpi={dpi:g} must be positive")
    colormap = _colormap(cmap)
    if raw:
        layout = None
        columns = DEFAULT_WIDTH if width is None else _pixels("width", width)
        rows = None if height is None else _pixels("height", height)
    else:
        layout = _Layout(DEFAULT_WIDTH if width is None else _pixels("width", width),
                         DEFAULT_HEIGHT if height is None else _pixels("height", height), dpi)
        columns, rows = layout.image_width, layout.image_height
    return colormap, layout, columns, rows


def _refuse_reading_options(path, sr, mono):
    """``sr`` and ``mono`` read audio: a container keeps the rate and channels it was made with."""
    if mono:
        raise ParameterError(f"{path}: mono=True applies to audio inputs, not to a container "
                             "(it keeps the channels it was made with)")
    if sr is not None:
        raise ParameterError(f"{path}: sr={sr!r} applies to audio inputs, not to a container "
                             "(it keeps the rate it was made with)")


def _container_raster(path, columns, rows, start, end, channel, fmin, fmax, params,
                      progress, sr=None, mono=False):
    _refuse_reading_options(path, sr, mono)
    with load(path) as box:
        return raster(box, columns, rows, start, end, channel, fmin, fmax), box.duration


def _audio_raster(path, columns, rows, start, end, channel, fmin, fmax, params, progress,
                  sr=None, mono=False):
    """Analyse into a temporary container (bounded memory), then draw it."""
    check_sr(sr)
    about = audio_info(path)  # check the selection before a long analysis
    _time_range(str(path), about["duration"], start, end)
    _channel(str(path), 1 if mono else about["channels"], channel)
    with tempfile.TemporaryDirectory(prefix="msft-render-") as tmp:
        box_path = Path(tmp) / f"{path.stem}.h5"
        analyze(path, box_path, fmin=_analysis_fmin(fmin, params), progress=progress,
                sr=sr, mono=mono, **params)
        with load(box_path) as box:
            r = _raster(_Frames.of(box, str(path)), columns, rows, start, end, channel,
                        fmin, fmax)
            return r, box.duration


def _no_such_input(path, *args, **kwargs):
    if Path(path).is_dir():
        raise ParameterError(f"{path}: is a folder: render the files inside it with targets()")
    missing = ContainerError if Path(path).suffix.lower() in CONTAINER_EXTENSIONS else AudioError
    raise missing(f"{path}: no such file")


#: What :func:`render` does with each kind of input (see :func:`input_kind`): a
#: function ``(path, columns, rows, start, end, channel, fmin, fmax, params,
#: progress) -> (Raster, duration in seconds)``. Models are no raster: render()
#: hands them to :func:`msft_cli.learn_dft.figures.render_model`.
_RASTERS = {"container": _container_raster, "audio": _audio_raster}


def check_options(**options):
    """Check :func:`render`'s options without any input: for a batch, fail once and early.

    Checks what does not depend on the input (colormap, sizes, dynamic range,
    axis, transform parameter names); raises what :func:`render` would raise.

    Examples
    --------
    >>> check_options(cmap="magma", width=2000, height=800)
    >>> check_options(cmap="nope")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    msft_cli.errors.ParameterError: cmap='nope' is unknown: use a matplotlib colormap ...
    """
    a = inspect.signature(render).bind(None, **options)
    a.apply_defaults()
    a = a.arguments
    _prepare(a["top_db"], a["max_db"], a["cmap"], a["y_axis"], a["raw"], a["width"],
             a["height"], a["dpi"], a["params"])


def _is_model(source):
    """Whether ``source`` is a learn-dft result (one exists only once its module is loaded)."""
    evaluate = sys.modules.get("msft_cli.learn_dft.evaluate")
    return evaluate is not None and isinstance(source, evaluate.LearnResult)


def render(source, output=None, start=None, end=None, channel="mix", fmin=None, fmax=None,
           top_db=80.0, max_db=None, cmap="magma", y_axis="hz", raw=False, width=None,
           height=None, dpi=100, title=None, progress=None, sr=None, mono=False, **params):
    """Draw the magnitudes of a container, an audio file or coefficients as an image.

    Each octave is drawn on its own time grid (see :func:`raster`). The image
    is written to a temporary name and renamed when complete, so a failure
    never leaves a file under the output's name.

    Parameters
    ----------
    source : str, Path, Container or Coefficients
        A container; an audio file (analysed on the fly into a temporary
        container, in bounded memory, with ``params`` as in
        :func:`msft_cli.analyze`);
        an open :class:`Container`; or coefficients in memory. A model file
        written by ``learn-dft`` is drawn by
        :func:`~msft_cli.learn_dft.figures.render_model` (default
        size 1600 x 1200; ``raw``: the weight matrix): ``start``, ``end``,
        ``channel``, ``fmin``, ``fmax`` and ``y_axis`` do not apply to it and
        are refused when given; transform parameters are ignored.
    output : str or Path, optional
        Image to write; its extension picks the format: ``.png``, ``.svg`` or
        ``.pdf``. Default: ``source`` with ``.png`` (required for coefficients).
    start, end : float, optional
        Time range in seconds (default: the whole signal).
    channel : int or "mix"
        A channel, or ``"mix"``: the largest magnitude over channels.
    fmin, fmax : float, optional
        Frequency range shown, in Hz (bins whose centres lie inside). An
        audio input is analysed from the lowest bin of the tuning's grid at
        or above ``fmin`` (less to compute); ``fmax`` only limits the display.
    top_db : float
        Dynamic range shown: levels below ``max_db - top_db`` get the lowest colour.
    max_db : float, optional
        Level in dBFS of the brightest colour. Default: the loudest pixel
        (0 dBFS for silence).
    cmap : str or matplotlib Colormap
        Default ``"magma"``.
    y_axis : {"hz", "note"}
        Label the frequency axis in Hz or with note names (A4 = the tuning).
    raw : bool
        An unadorned image: no axes, title or colorbar; one pixel row per bin
        unless ``height`` is given; for datasets and models.
    width, height : int, optional
        Size in pixels: of the whole picture (default 1200 x 600), or with
        ``raw`` of the image (default 1200 columns, one row per bin).
    dpi : float
        Resolution written into the file; with axes, text is sized for it.
    title : str, optional
        Default: the input's file name.
    progress : callable, optional
        ``progress(done, total)`` in samples while an audio input is analysed.
    sr : int, optional
        Audio inputs: resample to this rate before the analysis (as
        :func:`msft_cli.analyze`). Refused for a container.
    mono : bool
        Audio inputs: downmix to one channel first. Refused for a container.
    **params
        Transform parameters for audio inputs (``bins_per_octave``,
        ``n_octaves``, ``tuning``, ``window``, ``mode``, ``block_size``,
        ``threads``, ``planner``); containers carry their own and ignore them.

    Returns
    -------
    Report
        ``extra`` holds the image's ``width``, ``height``, ``format`` and ``size``.

    Raises
    ------
    MsftError
        A missing or foreign input, an empty time or frequency range, a
        channel that does not exist, an unknown colormap or extension, or an
        output that cannot be written; the message names the file.

    Examples
    --------
    >>> from msft_cli.render import render
    >>> render("sample_audio/house_beat.wav", "/tmp/house.png")  # doctest: +SKIP
    >>> render("house.h5", "/tmp/hats.svg", start=2, end=4, fmin=2000, raw=True)  # doctest: +SKIP
    """
    began = time.perf_counter()
    kind = (None if isinstance(source, (Container, Coefficients)) else
            "model" if _is_model(source) else input_kind(source))
    if kind == "model":
        _prepare(top_db, max_db, cmap, y_axis, True, None, None, dpi, params)
        from msft_cli.learn_dft.figures import _render_model_input  # learn-dft's own figures
        return _render_model_input(source, output, {
            "start": start, "end": end, "channel": channel, "fmin": fmin, "fmax": fmax,
            "y_axis": y_axis, "raw": raw, "width": width, "height": height, "dpi": dpi,
            "title": title, "cmap": cmap, "top_db": top_db, "max_db": max_db})
    colormap, layout, columns, rows = _prepare(top_db, max_db, cmap, y_axis, raw, width,
                                               height, dpi, params)
    dpi = float(dpi)

    if isinstance(source, (Container, Coefficients)):
        _refuse_reading_options(getattr(source, "path", "coefficients"), sr, mono)
        if output is None:
            if isinstance(source, Coefficients):
                raise ParameterError("output is required when rendering coefficients")
            output = Path(source.path).with_suffix(".png")
        name = Path(source.path).name if isinstance(source, Container) else ""
        fmt = _image_format(output)
        r = raster(source, columns, rows, start, end, channel, fmin, fmax)
        duration = source.n_samples / source.transform.sr
    else:
        path = Path(source)
        output = path.with_suffix(".png") if output is None else output
        fmt = _image_format(output)
        name = path.name
        draw = _RASTERS.get(kind, _no_such_input)
        r, duration = draw(path, columns, rows, start, end, channel, fmin, fmax, params,
                           progress, sr=sr, mono=mono)

    if title is None:
        title = name
        if r.channel != "mix":
            title += f" (channel {r.channel})"
    top = (r.peak_db if r.peak_db > FLOOR_DB else 0.0) if max_db is None else float(max_db)
    vmin, vmax = top - float(top_db), top
    if raw:
        _write_atomically(output, lambda tmp: _draw_raw(r, tmp, fmt, dpi, colormap, vmin,
                                                        vmax))
        size = (r.shape[1], r.shape[0])
    else:
        _write_atomically(output, lambda tmp: _draw_picture(r, tmp, fmt, layout, dpi,
                                                            colormap, vmin, vmax, y_axis,
                                                            title))
        size = (layout.width, layout.height)
    output = Path(output)
    shown = ("coefficients" if isinstance(source, Coefficients) else
             str(source.path) if isinstance(source, Container) else str(source))
    return Report(shown, output, duration, time.perf_counter() - began,
                  {"width": size[0], "height": size[1], "format": fmt,
                   "size": output.stat().st_size, "start": r.start, "end": r.end})
