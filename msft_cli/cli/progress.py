"""Progress bars and the batch console: what the commands print while they work."""

import sys
import time

import click

from msft_cli.batch.report import _clock, _span


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
        import click
        self._report = report
        self._last = time.monotonic()
        if self.quiet or not report.total or not sys.stderr.isatty():
            return
        self._bar = click.progressbar(length=report.total * 1000, label=report.command,
                                      file=sys.stderr, show_eta=False, show_percent=True,
                                      item_show_func=lambda _: self._info())
        self._bar.__enter__()

    def _info(self):
        r = self._report
        eta = r.eta()
        return (f"{r.done}/{r.total} files, {_span(r.audio_seconds + r.partial_seconds)} audio"
                + (f", ETA {_clock(eta)}" if eta is not None and r.left else ""))

    def update(self, report):
        if self._bar is not None:
            pos = int(1000 * (report.done + report.partial_files))
            self._bar.update(max(0, pos - self._bar.pos))
        elif not self.quiet and report.total and time.monotonic() - self._last >= self.every:
            import click
            self._last = time.monotonic()
            click.echo(f"{report.command}: {self._info()}", err=True)

    def record(self, rec):
        if rec["status"] != "failed":
            return
        import click
        if self._bar is not None:
            click.echo("\r\033[K", nl=False, err=True)
        click.echo(f"Error: {rec['reason']}", err=True)
        if self._bar is not None:
            self._bar._last_line = None
            self._bar.render_progress()

    def close(self, report):
        import click
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None
        if report.interrupted:
            click.echo(report.interruption(), err=True)
        elif not self.quiet:
            click.echo(f"{report.command}: {report.summary()}")


#: Inputs shorter than this (in samples at 44.1 kHz, about a minute) get no progress bar.
_LONG = 60 * 44100


def _progress(label, quiet):
    """A progress callback drawing click's bar on stderr for long inputs, and its closer."""
    if quiet:
        return None, lambda: None
    state = {}

    def update(done, total):
        bar = state.get("bar")
        if bar is None and total < _LONG:
            return
        if bar is None:
            bar = state["bar"] = click.progressbar(length=total, label=label,
                                                   file=sys.stderr, show_eta=True)
            bar.__enter__()
        bar.update(done - bar.pos)

    def close():
        if "bar" in state:
            state["bar"].__exit__(None, None, None)
    return update, close


def _iterations_progress(label, quiet):
    """A progress callback drawing click's bar on stderr, however short the task, and its
    closer (for iterations rather than samples)."""
    if quiet:
        return None, lambda: None
    state = {}

    def update(done, total):
        if "bar" not in state:
            state["bar"] = click.progressbar(length=total, label=label, file=sys.stderr,
                                             show_eta=True)
            state["bar"].__enter__()
        state["bar"].update(done - state["bar"].pos)

    def close():
        if "bar" in state:
            state["bar"].__exit__(None, None, None)
    return update, close
