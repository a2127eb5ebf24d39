"""Progress bars and the batch console: what the commands print while they work."""

import sys
import time

import click

from msft_cli.batch.report import _clock, _span


class Bar:
    """A click progress bar on stderr, drawn from the first update and closed once.

    The one progress-bar helper of the commands: each long task (samples of
    a file, phase iterations, epochs, the files of a batch) reports its
    position to :meth:`update`; the bar appears then (not before the task
    has checked its parameters) and :meth:`close` ends it, whether or not it
    ever appeared.

    Parameters
    ----------
    label : str
    quiet : bool
        Draw nothing.
    min_total : int
        Tasks with a smaller total get no bar (a short file's analysis).
    **options
        More of :func:`click.progressbar`'s options (``show_eta``,
        ``show_percent``, ``item_show_func``).
    """

    def __init__(self, label, quiet=False, min_total=0, **options):
        self.label = label
        self.quiet = quiet
        self.min_total = min_total
        self.options = options
        self._bar = None

    @property
    def position(self):
        """Steps done so far (0 before the bar appears)."""
        return 0 if self._bar is None else self._bar.pos

    def open(self, total):
        """Draw the bar for a task of ``total`` steps (if not quiet and long enough)."""
        if self._bar is None and not self.quiet and total >= self.min_total:
            self._bar = click.progressbar(length=total, label=self.label, file=sys.stderr,
                                          **self.options)
            self._bar.__enter__()

    def update(self, done, total, item=None):
        """Move the bar to ``done`` of ``total`` steps; ``item`` goes to ``item_show_func``."""
        self.open(total)
        if self._bar is not None and (done != self._bar.pos or item is not None):
            self._bar.update(done - self._bar.pos, item)

    def redraw(self):
        """Draw the bar again (after a line was printed over it)."""
        if self._bar is not None:
            self._bar._last_line = None
            self._bar.render_progress()

    def close(self):
        """End the bar (nothing happens if it never appeared or is closed already)."""
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None

    def callback(self):
        """``(update, close)`` for the library's ``progress=`` (``update`` None when quiet)."""
        return (None if self.quiet else lambda done, total: self.update(done, total)), self.close


class ConsoleProgress:
    """One progress bar on stderr, a line per failed file, a summary on stdout.

    The bar shows the files done of the total, the hours of audio converted
    and an ETA; it is drawn on a terminal only (elsewhere, e.g. in a Slurm
    log, a progress line is written every ``every`` seconds). ``quiet``
    silences the bar and the summary; failures and interruptions are always
    reported.
    """

    def __init__(self, quiet=False, every=60.0):
        self.quiet = quiet
        self.every = every
        self._bar = None
        self._last = 0.0
        self._report = None

    def start(self, report):
        self._report = report
        self._last = time.monotonic()
        if self.quiet or not report.total or not sys.stderr.isatty():
            return
        self._bar = Bar(report.command, show_eta=False, show_percent=True,
                        item_show_func=lambda _: self._info())
        self._bar.open(report.total * 1000)

    def _info(self):
        r = self._report
        eta = r.eta()
        return (f"{r.done}/{r.total} files, {_span(r.audio_seconds + r.partial_seconds)} audio"
                + (f", ETA {_clock(eta)}" if eta is not None and r.left else ""))

    def update(self, report):
        if self._bar is not None:
            pos = int(1000 * (report.done + report.partial_files))
            self._bar.update(max(pos, self._bar.position), report.total * 1000)
        elif not self.quiet and report.total and time.monotonic() - self._last >= self.every:
            self._last = time.monotonic()
            click.echo(f"{report.command}: {self._info()}", err=True)

    def record(self, rec):
        if rec["status"] != "failed":
            return
        if self._bar is not None:
            click.echo("\r\033[K", nl=False, err=True)
        click.echo(f"Error: {rec['reason']}", err=True)
        if self._bar is not None:
            self._bar.redraw()

    def close(self, report):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if report.interrupted:
            click.echo(report.interruption(), err=True)
        elif not self.quiet:
            click.echo(f"{report.command}: {report.summary()}")


#: Inputs shorter than this (in samples at 44.1 kHz, about a minute) get no progress bar.
_LONG = 60 * 44100


def _progress(label, quiet):
    """A progress callback drawing a :class:`Bar` for long inputs, and its closer."""
    return Bar(label, quiet, min_total=_LONG, show_eta=True).callback()


def _iterations_progress(label, quiet):
    """A progress callback drawing a :class:`Bar` however short the task, and its closer
    (for iterations rather than samples)."""
    return Bar(label, quiet, show_eta=True).callback()
