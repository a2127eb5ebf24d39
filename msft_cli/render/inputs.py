"""What render takes and writes: input kinds by content, output names and formats."""

from pathlib import Path

from msft_cli._checks import choice
from msft_cli._files import walk
from msft_cli.errors import ParameterError
from msft_cli.io.audio import AUDIO_EXTENSIONS
from msft_cli.io.container.format import CONTAINER_EXTENSIONS, MODEL_FORMAT_NAME
from msft_cli.io.container.reader import root_format

#: Image formats, picked by the output's extension.
FORMATS = ("png", "svg", "pdf")



def input_kind(path):
    """What an input is: ``"folder"``, ``"container"``, ``"model"``, ``"audio"`` or ``"missing"``.

    Files named ``.h5``/``.hdf5`` and HDF5 files are containers, unless their
    root attribute ``format`` is ``"msft-model"`` (written by ``learn-dft``);
    anything else is tried as audio.
    """
    p = Path(path)
    if p.is_dir():
        return "folder"
    if not p.exists():
        return "missing"
    fmt = root_format(p)
    if fmt == MODEL_FORMAT_NAME:
        return "model"
    if fmt is not None or p.suffix.lower() in CONTAINER_EXTENSIONS:
        return "container"
    return "audio"


def _mirrored(top, path):
    """The folder of ``path`` relative to ``top``: where its image goes under the output."""
    return Path() if top is None else path.parent.relative_to(top)


def _image_format(path, fmt=None):
    ext = Path(path).suffix.lower().lstrip(".")
    if ext not in FORMATS:
        raise ParameterError(f"{path}: unknown image extension "
                             f"{'.' + ext if ext else '(none)'}: use .png, .svg or .pdf")
    if fmt is not None and fmt != ext:
        raise ParameterError(f"{path}: the extension .{ext} disagrees with format={fmt!r}")
    return ext


def targets(inputs, output=None, format=None):
    """Pair each input with the image it renders to.

    Parameters
    ----------
    inputs : str, Path or list of them
        Containers, audio files, model files, or folders (each stands for the
        containers and audio files under it, as :func:`msft_cli._files.walk`
        finds them: at any depth, hidden files and folders skipped).
    output : str or Path, optional
        For one input file: the image to write, or an existing folder to write
        into. For several inputs or a folder: the folder to write into (made if
        missing), each folder's tree mirrored under it as a batch does. Default:
        beside each input, with the image's extension.
    format : {"png", "svg", "pdf"}, optional
        Format of the images named here (default ``"png"``); an explicit
        output name's extension must agree.

    Returns
    -------
    list of (Path, Path)

    Raises
    ------
    ParameterError
        An unknown format or extension, a folder holding nothing to render,
        or two inputs that would write the same image.
    """
    if format is not None:
        choice("format", format, FORMATS)
    ext = format or "png"
    inputs = [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
    if not inputs:
        raise ParameterError("no input given")
    files, folder_given = [], False
    for item in map(Path, inputs):
        if item.is_dir():
            folder_given = True
            found = [(item, p) for p in walk(item)
                     if p.suffix.lower() in CONTAINER_EXTENSIONS + AUDIO_EXTENSIONS]
            if not found:
                raise ParameterError(f"{item}: holds no container or audio file to render")
            files.extend(found)
        else:
            files.append((None, item))
    out = None if output is None else Path(output)
    if len(files) == 1 and not folder_given and not (out is not None and out.is_dir()):
        source = files[0][1]
        image = source.with_suffix("." + ext) if out is None else out
        _image_format(image, format)
        return [(source, image)]
    if out is not None:
        if out.suffix.lower().lstrip(".") in FORMATS and not out.is_dir():
            raise ParameterError(f"{out}: must be a folder when rendering several inputs")
        if out.exists() and not out.is_dir():
            raise ParameterError(f"{out}: is a file, not a folder to write images into")
    pairs = [(f, (f.parent if out is None else out / _mirrored(top, f)) / f"{f.stem}.{ext}")
             for top, f in files]
    seen = {}
    for src, image in pairs:
        if image in seen:
            raise ParameterError(f"{seen[image]} and {src} would both be rendered to {image}")
        seen[image] = src
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for _, image in pairs:
            image.parent.mkdir(parents=True, exist_ok=True)
    return pairs
