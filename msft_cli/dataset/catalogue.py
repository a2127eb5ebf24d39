"""The containers of a dataset: found in folders, surveyed once, checked to share one
transform."""

import os
from pathlib import PurePath

import numpy as np

from msft_cli._files import expand, walk
from msft_cli.engine.transform import PARAMS
from msft_cli.errors import ContainerError, ParameterError
from msft_cli.io.container.reader import load


def _show(value):
    """A parameter's value for a message: text quoted, numbers plain."""
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return repr(value) if isinstance(value, str) else str(value)


def _container_paths(source, pattern):
    """Container paths from a folder, a file, or a list of them, in a stable order.

    A folder gives the files under it whose path relative to it matches
    ``pattern`` (from the right, as :meth:`pathlib.PurePath.match`), found by
    :func:`msft_cli._files.walk`: at any depth, hidden files and folders
    skipped, a folder's files before its subfolders.
    """
    items = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    if not items:
        raise ParameterError("source is an empty list: give a folder or container paths")
    for item in items:
        if not isinstance(item, (str, os.PathLike)):
            raise TypeError(f"source entries must be paths, not {type(item).__name__}")

    def matching(folder):
        return [q for q in walk(folder) if PurePath(q.relative_to(folder)).match(pattern)]
    return expand(items, matching, "{folder}: no containers (" + pattern + ") in this folder",
                  ContainerError)


def survey(paths, channels):
    """Open every container once: the transform they share, their lengths and channels.

    Returns
    -------
    params : dict
        The transform's parameters (:meth:`MSFT.to_params
        <msft_cli.engine.transform.MSFT.to_params>`), the same in every file.
    n_samples, n_channels : list of int
        Each file's length and channel count.

    Raises
    ------
    ContainerError
        A file made with other parameters, or (``channels="all"``) another
        channel count.
    ParameterError
        ``channels`` is an index that a file does not have.
    """
    shared, lengths, counts = None, [], []
    for path in paths:
        with load(path) as box:
            params = box.transform.to_params()
            n_samples, n_channels = box.n_samples, box.n_channels
        if shared is None:
            shared = params
        else:
            for key in PARAMS:
                if params[key] != shared[key]:
                    raise ContainerError(
                        f"{path} was made with {key}={_show(params[key])} but {paths[0]} "
                        f"with {key}={_show(shared[key])}: the containers of one "
                        "dataset must share the transform's parameters"
                        + (" (analyze them with --sr RATE, or sr=RATE, to resample to "
                           "one rate)" if key == "sr" else ""))
        if channels == "all" and counts and n_channels != counts[0]:
            raise ContainerError(
                f"{path} has {n_channels} channel(s) but {paths[0]} has "
                f"{counts[0]}: channels='all' needs the same number in every "
                "file (use 'mix', 'each' or a channel index)")
        if isinstance(channels, int) and channels >= n_channels:
            raise ParameterError(f"channels={channels} does not exist in {path}: it "
                                 f"has {n_channels} channel(s)")
        lengths.append(n_samples)
        counts.append(n_channels)
    return shared, lengths, counts
