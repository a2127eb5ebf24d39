"""Figures of the linear-layer experiment: learned weights, their spectra, the loss."""

import time
from pathlib import Path

import numpy as np

from msft_cli.convert import Report
from msft_cli.errors import ContainerError, MsftError, ParameterError
from msft_cli.learn_dft.evaluate import LearnResult, _db
from msft_cli.learn_dft.model import load
from msft_cli.learn_dft.targets import TEST_TONES, test_signal
from msft_cli.render.figure import _colormap, _hz_label, _metadata
from msft_cli.render.inputs import _image_format
from msft_cli.render.picture import _prepare, _write_atomically
from msft_cli.render.raster import _pixels

#: Size of a model's figure when no width or height is given, in pixels.
MODEL_WIDTH, MODEL_HEIGHT = 1600, 1200

#: Colormap of the (signed) weights, centred on zero.
WEIGHT_CMAP = "RdBu_r"

#: The smallest model figure, in pixels at dpi 100 (it grows with the dpi).
_MODEL_MIN = (640, 480)

#: Padding between the figure's panels: in points (of 1/72 inch), and as a fraction of a panel.
_PAD_POINTS, _PANEL_SPACE = 4, 0.03
#: Rows of a weight matrix scanned or coloured at a time (no full-size temporaries).
_CHUNK_ROWS = 256
#: A weight row's plot reaches this fraction of its support beyond each end (1 / 40).
_SUPPORT_PAD = 40
#: Loss curves of at most this many epochs get a marker per epoch.
_MARKED_EPOCHS = 30

#: render()'s options that mean nothing for a model, with the values that say "not given".
_NOT_FOR_MODELS = {"start": None, "end": None, "channel": "mix", "fmin": None, "fmax": None,
                   "y_axis": "hz"}


def render_model(model, output=None, raw=False, width=None, height=None, dpi=100, title=None,
                 cmap="magma", top_db=80.0, max_db=None, frames=(0, 10, 20, 30), rows=None):
    """Draw a model written by ``msft learn-dft``: the published figures, in one image.

    The panels (from :func:`msft_cli.learn_dft.figure_data`): the weight maps
    of output frames 1, 11, 21 and 31 (fewer when the target has fewer; real
    parts, input sample across and output bin up, one symmetric colour scale;
    with two maps or fewer, their imaginary parts too); three weight rows, the
    learned real and imaginary parts beside the analytic windowed sinusoid
    (dashed), zoomed to its support; the reference and the network's
    spectrogram of the four-tone test, linear and in dB, each pair on one
    colour scale; and the loss per epoch on a log axis (for ``lstsq``, the
    closed form's validation MSE as one point). The title gives the target,
    how it was learned, the four-tone relative error and the largest weight
    difference from the analytic matrix.

    Parameters
    ----------
    model : str, Path or LearnResult
        A model file written by :meth:`~msft_cli.learn_dft.LearnResult.save`,
        or a result in memory.
    output : str or Path, optional
        ``.png``, ``.svg`` or ``.pdf``. Default: the model file with ``.png``
        (required for a result in memory).
    raw : bool
        Only the learned weight matrix, one pixel per weight: row ``i`` is
        input sample ``i`` (top to bottom), column ``j`` output ``j`` (the
        real parts, then the imaginary parts), coloured with
        :data:`WEIGHT_CMAP` from ``-max|W|`` to ``+max|W|``. A matrix larger
        than ``width`` x ``height`` is pooled down to it, each pixel showing
        the weight of largest magnitude in its cell (sign kept); it is never
        enlarged.
    width, height : int, optional
        Size of the figure in pixels (default 1600 x 1200), or with ``raw``
        the largest image (default: one pixel per weight).
    dpi : float
        Resolution written into the file; text is sized for it.
    title : str, optional
        First line of the title. Default: the file name.
    cmap : str or Colormap
        Colormap of the spectrograms (the weights use :data:`WEIGHT_CMAP`).
    top_db, max_db : float
        The dB spectrograms show ``max_db - top_db .. max_db`` (default
        ``max_db``: the reference's peak).
    frames, rows
        Which weight maps and weight rows to draw (see
        :func:`~msft_cli.learn_dft.figure_data`).

    Returns
    -------
    Report
        ``duration`` is the input length in seconds; ``extra`` holds the image's
        ``width``, ``height``, ``format`` and ``size``, and the model's
        ``weights`` shape.

    Raises
    ------
    MsftError
        A missing, foreign, corrupt or newer model file, an unknown extension
        or colormap, a figure too small for its panels, or an output that
        cannot be written; the message is one line naming the file.
    """
    began = time.perf_counter()
    colormap = _prepare(top_db, max_db, cmap, "hz", True, None, None, dpi, {})[0]
    dpi = float(dpi)
    if raw:
        size = (None if width is None else _pixels("width", width),
                None if height is None else _pixels("height", height))
    else:
        size = (MODEL_WIDTH if width is None else _pixels("width", width),
                MODEL_HEIGHT if height is None else _pixels("height", height))
        least = [round(m * dpi / 100) for m in _MODEL_MIN]
        if size[0] < least[0] or size[1] < least[1]:
            raise ParameterError(f"a {size[0]}x{size[1]} figure at dpi={dpi:g} leaves no room "
                                 f"for a model's panels: make it at least {least[0]}x"
                                 f"{least[1]} pixels, lower the dpi, or use raw=True")
    if isinstance(model, LearnResult):
        if output is None:
            raise ParameterError("output is required when rendering a model in memory")
        shown, name, result = "model", "", model
        fmt = _image_format(output)
    else:
        path = Path(model)
        output = path.with_suffix(".png") if output is None else output
        shown, name = str(path), path.name
        fmt = _image_format(output)
        result = _load_model(path)
    w = result.weights
    if raw:
        image = _pool_signed(w, w.shape[0] if size[1] is None else min(size[1], w.shape[0]),
                             w.shape[1] if size[0] is None else min(size[0], w.shape[1]))
        lim = _finite_peak([image])
        _write_atomically(output, lambda tmp: _draw_weights_raw(image, lim, tmp, fmt, dpi))
        size = (image.shape[1], image.shape[0])
    else:
        try:
            rows = _default_rows(result.target) if rows is None else rows
            data = figure_data(result, frames=frames, rows=rows)
        except ParameterError:
            raise
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise ContainerError(f"{shown}: corrupt model file ({_one_line(exc)})") from exc
        if not data["weight_maps"]:
            n = max(b.n_frames for b in result.target.blocks)
            raise ParameterError(f"frames={tuple(frames)!r}: none is an output frame of "
                                 f"{shown} (it has {n}: 0..{n - 1})")
        lines = [" - ".join(s for s in (name if title is None else title, data["title"]) if s),
                 _model_summary(result, data)]
        _write_atomically(output, lambda tmp: _draw_model(data, tmp, fmt, size, dpi, colormap,
                                                          float(top_db), max_db, lines))
    output = Path(output)
    return Report(shown, output, result.target.n_inputs / result.target.sr,
                  time.perf_counter() - began,
                  {"width": size[0], "height": size[1], "format": fmt,
                   "size": output.stat().st_size, "weights": tuple(w.shape)})


def _render_model_input(source, output, options):
    """render() on a model: refuse the options that mean nothing for it, then draw."""
    in_memory = isinstance(source, LearnResult)
    for key, unset in _NOT_FOR_MODELS.items():
        value = options.pop(key)
        if value != unset:
            raise ParameterError(f"{'model' if in_memory else source}: {key}={value!r} does "
                                 "not apply to a learn-dft model (its figure shows the whole "
                                 "model)")
    # transform parameters are ignored: a model carries its own
    return render_model(source if in_memory else Path(source), output, **options)


def _one_line(exc):
    return " ".join(str(exc).split()) or type(exc).__name__


def _load_model(path):
    """A model file as a LearnResult; every failure is one line naming the file."""
    try:
        result = load(path)
    except MsftError as exc:
        text = _one_line(exc)
        raise type(exc)(text if text.startswith(str(path)) else f"{path}: {text}") from exc
    except KeyError as exc:
        raise ContainerError(f"{path}: incomplete model file (no {exc.args[0]!r} "
                             "attribute)") from exc
    except (ValueError, TypeError, AttributeError) as exc:
        raise ContainerError(f"{path}: corrupt model file ({_one_line(exc)})") from exc
    t, w = result.target, result.weights
    if getattr(w, "shape", None) != (t.n_inputs, t.n_outputs) or w.dtype.kind != "f":
        raise ContainerError(f"{path}: corrupt model file (weights are "
                             f"{getattr(w, 'shape', '?')}, the target needs "
                             f"{(t.n_inputs, t.n_outputs)} floats)")
    # what the figure reads besides the weights
    needs = {"history": (result.history, ("epoch", "loss", "val_loss")),
             "settings": (result.settings, ("solver", "examples", "epochs")),
             "evaluation": (result.evaluation, _EVALUATION_SHOWN)}
    for what, (have, keys) in needs.items():
        missing = [k for k in keys if not isinstance(have, dict) or k not in have]
        if missing:
            raise ContainerError(f"{path}: incomplete model file (no {missing[0]!r} in its "
                                 f"{what})")
    lengths = {np.shape(result.history[k]) for k in ("epoch", "loss", "val_loss")}
    if len(lengths) != 1 or len(lengths.pop()) != 1:
        raise ContainerError(f"{path}: corrupt model file (the history's epoch, loss and "
                             "val_loss are not one row per epoch)")
    return result


#: The evaluation figures a model's title shows.
_EVALUATION_SHOWN = ("tones_rel_error_db", "fresh_rel_error_db", "weights_max_abs_diff",
                     "weights_max_rel_diff")


def _model_summary(result, data):
    """The title's second line: how the model was made and how well it does."""
    s, m = result.settings, data["metrics"]
    how = f"{s['solver']}, {s['examples']} examples"
    if s["solver"] != "lstsq":
        how += f", {s['epochs']} epochs"
    return (f"{how}  |  four tones: relative error {m['tones_rel_error_db']:.1f} dB  |  "
            f"fresh noise: {m['fresh_rel_error_db']:.1f} dB  |  weights vs analytic: "
            f"max |W - A| {m['weights_max_abs_diff']:.2e} "
            f"(relative {m['weights_max_rel_diff']:.2e})")


def _default_rows(target):
    """Three distinct weight rows of the middle frame: bins at 1/16, 1/8 and 1/4 of the
    bins (figure_data's default), then 1/2 and 3/4 when a small target repeats one."""
    blocks = [b for b in target.blocks if not b.real]
    main = max(blocks, key=lambda b: b.n_frames) if target.name == "msft" else blocks[-1]
    n = main.n_bins
    bins = []
    for b in [max(1, n // q) for q in (16, 8, 4)] + [n // 2, 3 * n // 4, 0]:
        if b < n and b not in bins and len(bins) < 3:
            bins.append(b)
    return [(main.n_frames // 2, b) for b in sorted(bins)]


def _finite_peak(arrays, rows=_CHUNK_ROWS):
    """The largest finite magnitude in ``arrays`` (1 when there is none), for colour scales;
    read ``rows`` rows at a time (no full-size temporaries)."""
    peak = 0.0
    for a in arrays:
        a = np.asarray(a)
        a = a.reshape(a.shape[0], -1) if a.ndim else a.reshape(1, 1)
        for r in range(0, a.shape[0], rows):
            block = np.abs(a[r:r + rows])
            block = block[np.isfinite(block)]
            if block.size:
                peak = max(peak, float(block.max()))
    return peak if peak > 0 else 1.0


def _pool_signed(w, rows, cols):
    """``w`` pooled to ``rows x cols`` cells (at most its own size): each cell keeps the
    value of largest magnitude in it, sign and all."""
    hi = lo = np.asarray(w)
    if rows >= hi.shape[0] and cols >= hi.shape[1]:
        return hi  # nothing to pool: the matrix itself, not a copy
    for axis, n in ((1, cols), (0, rows)):
        size = hi.shape[axis]
        if n < size:
            starts = np.arange(n) * size // n
            hi = np.maximum.reduceat(hi, starts, axis=axis)
            lo = np.minimum.reduceat(lo, starts, axis=axis)
    return np.where(hi >= -lo, hi, lo)


def _draw_weights_raw(image, lim, path, fmt, dpi, rows=_CHUNK_ROWS):
    """``image`` coloured from ``-lim`` to ``lim``, as 8-bit RGBA made ``rows`` rows at a
    time (a float RGBA copy of a large matrix would be 32 bytes per weight)."""
    from matplotlib.image import imsave
    cmap = _colormap(WEIGHT_CMAP)
    rgba = np.empty(image.shape + (4,), np.uint8)
    for r in range(0, image.shape[0], rows):
        rgba[r:r + rows] = cmap((image[r:r + rows] + lim) / (2 * lim), bytes=True)
    imsave(path, rgba, format=fmt, origin="upper", dpi=dpi, metadata=_metadata(fmt))


def _bin_extent(ax, freqs):
    """Where bins go on an axis: Hz when evenly spaced, else bin numbers labelled in Hz."""
    freqs = np.asarray(freqs, float)
    d = np.diff(freqs)
    if len(freqs) > 1 and d[0] > 0 and np.allclose(d, d[0]):
        return freqs[0] - d[0] / 2, freqs[-1] + d[0] / 2
    n = len(freqs)
    ticks = np.unique(np.linspace(0, n - 1, min(n, 6)).round().astype(int))
    ax.set_yticks(ticks, [_hz_label(float(f"{freqs[i]:.3g}")) for i in ticks])
    return -0.5, n - 0.5


def _map_panels(maps):
    """Weight maps grouped by requested frame (msft: one map per octave, stacked low to high)."""
    groups = []
    for m in maps:
        if not groups or m["block"] in {g["block"] for g in groups[-1]}:
            groups.append([])
        groups[-1].append(m)
    panels = []
    for g in groups:
        label = g[-1]["label"]  # msft: the finest octave's frame; coarser ones hold theirs
        stack = {k: np.concatenate([m[k] for m in g], axis=1) for k in ("real", "imag")}
        freqs = np.concatenate([m["frequencies"] for m in g])
        panels.append((f"{label}, real", stack["real"], freqs))
        if len(groups) <= 2:
            panels.append((f"{label}, imaginary", stack["imag"], freqs))
    return panels


def _draw_model(data, path, fmt, size, dpi, cmap, top_db, max_db, lines):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    fig.get_layout_engine().set(h_pad=_PAD_POINTS / 72, w_pad=_PAD_POINTS / 72,
                                 hspace=_PANEL_SPACE, wspace=_PANEL_SPACE)
    fig.suptitle("\n".join(lines), fontsize="medium")
    top, middle, bottom = fig.subfigures(3, 1, height_ratios=(1.15, 1.0, 1.15))
    _draw_weight_maps(top, data["weight_maps"])
    _draw_weight_rows(middle, data["weight_rows"], data["loss"])
    _draw_spectrograms(bottom, data["spectrograms"], cmap, top_db, max_db)
    fig.savefig(path, format=fmt, dpi=dpi, metadata=_metadata(fmt))


def _draw_weight_maps(sub, maps):
    panels = _map_panels(maps)
    axes = sub.subplots(1, len(panels), squeeze=False)[0]
    lim = _finite_peak([p[1] for p in panels])
    for ax, (label, values, freqs) in zip(axes, panels):
        lo, hi = _bin_extent(ax, freqs)
        im = ax.imshow(values.T, origin="lower", aspect="auto", cmap=WEIGHT_CMAP, vmin=-lim,
                       vmax=lim, extent=(-0.5, values.shape[0] - 0.5, lo, hi))
        ax.set_title(label, fontsize="medium")
        ax.set_xlabel("Input sample")
        ax.tick_params(labelsize="small")
    axes[0].set_ylabel("Output bin (Hz)")
    sub.colorbar(im, ax=list(axes), label="Learned weight", shrink=0.9, pad=0.01)


def _draw_weight_rows(sub, rows, loss):
    from matplotlib.ticker import MaxNLocator
    axes = sub.subplots(1, len(rows) + 1, squeeze=False)[0]
    for i, (ax, r) in enumerate(zip(axes, rows)):
        x = r["samples"]
        ax.plot(x, r["learned_real"], color="C0", lw=1.2, label="learned, real")
        ax.plot(x, r["learned_imag"], color="C1", lw=1.2, label="learned, imaginary")
        ax.plot(x, r["analytic_real"], color="k", lw=0.9, ls="--", label="analytic, real")
        ax.plot(x, r["analytic_imag"], color="0.45", lw=0.9, ls="--",
                label="analytic, imaginary")
        support = np.flatnonzero((r["analytic_real"] != 0) | (r["analytic_imag"] != 0))
        if support.size:
            pad = max(1, (support[-1] - support[0]) // _SUPPORT_PAD)
            ax.set_xlim(support[0] - pad, support[-1] + pad)
        ax.set_title(r["label"], fontsize="medium")
        ax.set_xlabel("Input sample")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize="small")
        if i == 0:
            ax.set_ylabel("Weight")
    sub.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=4,
               fontsize="small", frameon=False)
    _draw_loss(axes[-1], loss)


def _draw_loss(ax, loss):
    epoch = np.asarray(loss["epoch"], float)
    ax.set_title("Loss (MSE)", fontsize="medium")
    ax.set_xlabel("Epoch")
    ax.tick_params(labelsize="small")
    curves = [(np.asarray(loss["loss"], float), "training", "C0"),
              (np.asarray(loss["val_loss"], float), "validation", "C3")]
    shown = [(y, label, c) for y, label, c in curves if np.any(np.isfinite(y) & (y > 0))]
    if not shown:
        ax.text(0.5, 0.5, "no finite loss", ha="center", va="center", transform=ax.transAxes)
        return
    ax.set_yscale("log")
    marker = "o" if len(epoch) <= _MARKED_EPOCHS else None
    for y, label, c in shown:
        ax.plot(epoch, y, color=c, marker=marker, ms=4, label=label)
    bits = np.asarray(loss.get("bits", []))
    if bits.size == epoch.size and np.any(bits == 32):
        for e in epoch[bits == 32]:
            ax.axvspan(e - 0.5, e + 0.5, color="0.94", lw=0)
        ax.plot([], [], color="0.94", lw=6, label="float32 epochs")
    if loss.get("solver") == "lstsq":
        val = np.asarray(loss["val_loss"], float)
        ax.text(0.5, 0.62, f"closed form (lstsq)\nvalidation MSE {val[-1]:.3g}", ha="center",
                va="bottom", transform=ax.transAxes, fontsize="small")
        ax.set_xticks(epoch)
    else:
        from matplotlib.ticker import MaxNLocator
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, which="major", color="0.85", lw=0.6)
    ax.legend(fontsize="x-small")


def _draw_spectrograms(sub, s, cmap, top_db, max_db):
    left, right = sub.subfigures(1, 2)
    freqs, times = np.asarray(s["frequencies"], float), np.asarray(s["times"], float)
    peak = _finite_peak([s["reference_magnitude"]])
    top = float(np.nanmax(s["reference_db"])) if max_db is None else float(max_db)
    for part, (scale, ref, net, lims, unit) in zip((left, right), (
            ("linear", s["reference_magnitude"], s["network_magnitude"], (0.0, peak),
             "|X|"),
            ("dB", s["reference_db"], s["network_db"], (top - top_db, top), "dB"))):
        axes = part.subplots(1, 2, squeeze=False)[0]
        for ax, what, values in zip(axes, ("reference", "network"), (ref, net)):
            ax.set_title(f"{what}, {scale}", fontsize="medium")
            ax.tick_params(labelsize="small")
            if len(times) > 1:
                step = times[1] - times[0]
                lo, hi = _bin_extent(ax, freqs)
                im = ax.imshow(values, origin="lower", aspect="auto", interpolation="nearest",
                               cmap=cmap, vmin=lims[0], vmax=lims[1],
                               extent=(1e3 * times[0], 1e3 * (times[-1] + step), lo, hi))
                ax.set_xlabel("Time (ms)")
            else:  # one frame (the DFT): a spectrum
                im = None
                ax.plot(freqs, values[:, 0], color="C0" if what == "reference" else "C3",
                        marker="o", ms=3, lw=1)
                ax.set_ylim(lims[0], lims[1] + 0.05 * (lims[1] - lims[0]))
                ax.set_xlabel("Frequency (Hz)")
                ax.set_ylabel(unit)
        if im is not None:
            axes[0].set_ylabel("Frequency (Hz)")
            part.colorbar(im, ax=list(axes), label=unit, shrink=0.9, pad=0.01)
    tones = ", ".join(f"{f:g} Hz" for f, _ in s["tones"])
    sub.suptitle(f"Four-tone test ({tones}): relative error {s['rel_error_db']:.1f} dB",
                 fontsize="medium")


def figure_data(model, frames=(0, 10, 20, 30), rows=None, floor_db=-120.0):
    """Everything the published figures show, as arrays: the renderer only draws.

    Parameters
    ----------
    model : LearnResult or str or Path
        A result, or a model file to load.
    frames : sequence of int
        Output frames whose weight maps to show (0-based; the published 1st,
        11th, 21st and 31st are the default). Frames past the last are
        dropped; for ``"dft"`` there is one frame; for ``"msft"`` they index the
        frames of the finest octave and each octave shows its frame at that time.
    rows : sequence of (frame, bin), optional
        Weight rows (columns of the weight matrix) to compare with the analytic
        windowed sinusoid. Default: three bins (1/16, 1/8 and 1/4 of the bins)
        in the middle frame.
    floor_db : float
        Floor of the log-scaled spectrograms.

    Returns
    -------
    dict
        ``"title"`` : str, the target's description.
        ``"sr"`` : int.
        ``"weight_maps"`` : list of dicts, one per frame: ``frame`` (int),
        ``label`` (str), ``block`` (str), ``real``, ``imag`` (learned weights,
        ``(n_inputs, n_bins)``: rows are input samples, columns output bins),
        ``analytic_real``, ``analytic_imag`` (same shapes), ``frequencies``
        ``(n_bins,)`` Hz.
        ``"weight_rows"`` : list of dicts: ``frame``, ``bin``, ``block``,
        ``label``, ``frequency`` (Hz), ``samples`` (``(n_inputs,)`` input index),
        ``learned_real``, ``learned_imag``, ``analytic_real``, ``analytic_imag``
        (each ``(n_inputs,)``).
        ``"spectrograms"`` : dict: ``signal`` (the four-tone input,
        ``(n_inputs,)``), ``tones`` (list of (Hz, amplitude)), ``frequencies``
        (``(rows,)`` Hz, low to high), ``times`` (``(frames,)`` s),
        ``reference`` and ``network`` (complex ``(rows, frames)``),
        ``reference_magnitude``, ``network_magnitude`` (linear) and
        ``reference_db``, ``network_db`` (``20 log10``, floored at ``floor_db``),
        ``rel_error`` and ``rel_error_db``. For ``"msft"``, every band group
        is stacked low to high on the finest hop's time grid (each coarser
        frame held over its span).
        ``"loss"`` : dict of ``(epochs,)`` arrays: ``epoch``, ``loss``,
        ``val_loss``, ``seconds``, ``bits``; ``solver`` (str). For ``lstsq``, one
        epoch with a NaN ``loss``.
        ``"metrics"`` : the evaluation dict (see :func:`evaluate`).
    """
    if not isinstance(model, LearnResult):
        model = load(model)
    tgt, w = model.target, model.weights
    a = tgt.matrix()
    k = tgt.n_complex
    fine = tgt.blocks[-1] if tgt.name != "msft" else max(
        (b for b in tgt.blocks if not b.real), key=lambda b: b.n_frames)
    maps = []
    for f in frames:
        f = int(f)
        if f < 0 or f >= fine.n_frames:
            continue
        for bi, (off, b) in enumerate(zip(tgt.offsets(), tgt.blocks)):
            if tgt.name == "msft" and b.real:
                continue
            if tgt.name == "msft":
                fb = min(b.n_frames - 1, f * b.n_frames // fine.n_frames)
            else:
                fb = f
            cols = off + np.arange(b.n_bins) * b.n_frames + fb
            maps.append({"frame": fb, "block": b.name,
                         "label": f"{b.name} frame {fb + 1}" if tgt.name == "msft"
                         else f"frame {fb + 1}",
                         "real": w[:, cols], "imag": w[:, k + cols],
                         "analytic_real": a[:, cols], "analytic_imag": a[:, k + cols],
                         "frequencies": b.frequencies})
        if tgt.name == "dft":
            break
    main = fine
    off = tgt.offsets()[tgt.blocks.index(main)]
    if rows is None:
        mid = main.n_frames // 2
        rows = [(mid, max(1, main.n_bins // q)) for q in (16, 8, 4)]
    wrows = []
    for f, bn in rows:
        f, bn = int(f), int(bn)
        if not (0 <= f < main.n_frames and 0 <= bn < main.n_bins):
            raise ParameterError(f"rows=({f}, {bn}) is outside the {main.n_frames} frames x "
                                 f"{main.n_bins} bins of {main.name}")
        c = off + bn * main.n_frames + f
        wrows.append({"frame": f, "bin": bn, "block": main.name,
                      "label": f"frame {f + 1}, bin {bn} ({main.frequencies[bn]:.0f} Hz)",
                      "frequency": float(main.frequencies[bn]),
                      "samples": np.arange(tgt.n_inputs),
                      "learned_real": w[:, c].copy(), "learned_imag": w[:, k + c].copy(),
                      "analytic_real": a[:, c].copy(), "analytic_imag": a[:, k + c].copy()})
    x = test_signal(tgt)
    ref = tgt.to_complex(tgt.forward(x[None])[0])
    net = tgt.to_complex(x @ w)
    ref_img, freqs, times = _image(tgt, ref)
    net_img, _, _ = _image(tgt, net)
    err = float(np.linalg.norm(net - ref) / np.linalg.norm(ref))

    def db(z):
        return np.maximum(20 * np.log10(np.maximum(np.abs(z), 1e-300)), floor_db)

    spectro = {"signal": x, "tones": list(TEST_TONES), "frequencies": freqs, "times": times,
               "reference": ref_img, "network": net_img,
               "reference_magnitude": np.abs(ref_img), "network_magnitude": np.abs(net_img),
               "reference_db": db(ref_img), "network_db": db(net_img),
               "rel_error": err, "rel_error_db": _db(err)}
    loss = {kk: np.asarray(v) for kk, v in model.history.items()}
    loss["solver"] = model.settings["solver"]
    return {"title": tgt.describe(), "sr": tgt.sr, "weight_maps": maps, "weight_rows": wrows,
            "spectrograms": spectro, "loss": loss, "metrics": dict(model.evaluation)}


def _image(tgt, values):
    """Complex outputs as one ``(rows, frames)`` image, low frequencies first."""
    blocks = tgt.split(values)
    if tgt.name != "msft":
        b = tgt.blocks[0]
        return blocks[0], b.frequencies, b.times
    n = max(b.n_frames for b in tgt.blocks)
    fine = [b for b in tgt.blocks if b.n_frames == n][0]
    rows, freqs = [], []
    for b, img in zip(tgt.blocks, blocks):
        rows.append(np.repeat(img, n // b.n_frames, axis=1))
        freqs.append(b.frequencies)
    return np.concatenate(rows, axis=0), np.concatenate(freqs), fine.times
