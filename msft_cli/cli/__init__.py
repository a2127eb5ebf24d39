"""The command line: ``msft``, a click group of thin commands over the library.

Each command lives in a module of its own and is imported only when it runs
(or its ``--help`` is asked for): ``msft --help`` and ``msft --version`` load
click and nothing of numpy, h5py, pyfftw, scipy or matplotlib.
"""

import importlib
from collections.abc import Mapping

import click

from msft_cli._version import __version__

#: Each command: its module (``msft_cli.cli.<module>``), the function in it, and the short
#: help that ``msft --help`` lists without importing it (tests/test_cli.py checks that it
#: is the command's own).
COMMANDS = {
    "analyze": ("analyze", "analyze", "Transform an audio file IN (or - for standard input) "
                "into an HDF5 container."),
    "resynth": ("resynth", "resynth",
                "Resynthesize audio from a container, at its rate (or --sr) and channels."),
    "info": ("info", "info",
             "Print a summary of a container: source, duration, parameters, octaves."),
    "render": ("render", "render", "Draw containers or audio files IN as images, each octave "
               "at its own time resolution."),
    "learn-dft": ("learn_dft", "learn_dft_command", "Train one dense layer (no bias, no "
                  "activation) to do a DFT, an STFT or msft."),
    "wisdom": ("wisdom", "wisdom",
               "Measure the fastest FFTW plans once, for every later run on this machine."),
    "view": ("view", "view",
             "Look at and listen to containers (or audio files) in the browser."),
    "merge-manifests": ("manifests", "merge_manifests", "Merge the manifests of batch runs "
                        "and shards into one JSON-lines file."),
}


class _Commands(Mapping):
    """``main.commands``: every command by name, its module imported on first access."""

    def __getitem__(self, name):
        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(f"msft_cli.cli.{module}"), attr)

    def __iter__(self):
        return iter(COMMANDS)

    def __len__(self):
        return len(COMMANDS)


class LazyGroup(click.Group):
    """A click group whose commands are imported on first use."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.commands = _Commands()

    def format_commands(self, ctx, formatter):
        """The command list as click draws it, from :data:`COMMANDS`'s short helps."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, click.Command(name, help=COMMANDS[name][2]).get_short_help_str(limit))
                for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="msft")
def main():
    """msft: an exact multi-scale constant-Q transform for music.

    Short windows for high frequencies, long ones for low frequencies, a
    constant number of bins per octave, and resynthesis far below audibility.

    \b
    Example:
      msft analyze sample_audio/house_beat.wav -o house.h5
      msft info house.h5
      msft resynth house.h5 -o house.wav --reference sample_audio/house_beat.wav
    """


__all__ = ["main", "COMMANDS"]
