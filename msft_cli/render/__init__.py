"""Pictures of the coefficients: the pixels (:mod:`.raster`, numpy only), the figure
(:mod:`.figure`, matplotlib) and :func:`render`, which ties them to the inputs (:mod:`.picture`).

Every octave is drawn on its own time grid. The picture's pixel columns split
the time range evenly; for each octave, a column shows the largest magnitude of
the frames whose times fall inside it (so a 1 ms click stays visible in the top
octave however long the file), and where an octave has fewer frames than
columns, each column shows the frame nearest to its centre (each frame is held
over the columns it covers). Rows are handled the same way on the
log-frequency axis: one row per bin when the heights match, the largest bin per
row when there are more bins than rows, and the nearest bin otherwise.

Containers are read piece by piece, aligned to their chunks, and only the
frames of the time range asked for are read, so a long file renders in bounded
memory. matplotlib is imported on first use (by :mod:`.figure`, and by
:mod:`msft_cli.learn_dft.figures` for model figures), with the Agg canvas and no
global pyplot state, so importing this package (and the CLI) does not pay for it.

Inputs are dispatched on what they are (:func:`input_kind`, then
``_RASTERS``): a container, an audio file (analysed on the fly into a
temporary container), or a learn-dft model file (root attribute
``format == "msft-model"``), drawn by
:func:`msft_cli.learn_dft.figures.render_model` as one figure of panels (weight
maps, weight rows, the four-tone spectrograms, the loss).
"""

from .figure import Y_AXES
from .inputs import CONTAINER_EXTENSIONS, FORMATS, input_kind, targets
from .picture import DEFAULT_HEIGHT, DEFAULT_WIDTH, check_options, render
from .raster import FLOOR_DB, Raster, raster

__all__ = ["FORMATS", "CONTAINER_EXTENSIONS", "input_kind", "targets", "FLOOR_DB", "Raster", "raster", "Y_AXES", "DEFAULT_WIDTH", "DEFAULT_HEIGHT", "check_options", "render"]
