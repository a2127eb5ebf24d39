"""The local web server behind ``msft view``: the page, tiles and audio of the files given.

Safety: the server binds 127.0.0.1 only; every request must carry the random
token of the URL printed at start (``?token=...``), and a Host header naming
127.0.0.1 or localhost (no DNS rebinding); files are addressed by their
position in the list given on the command line, never by a path, and the
page's own files come from a fixed list. Bad requests get a 4xx answer with a
one-line reason; no request can stop the server or show a traceback.

Endpoints (GET; each with ``token``):

* ``/``: the page; ``/static/<name>``: its script, style and colormaps.
* ``/api/files``: JSON, one object per file (geometry, duration, frequencies).
* ``/api/tile?file=F&z=Z&x=X&channel=C``: float32 little-endian ``(bins, columns)``
  in dBFS (see :mod:`msft_cli.view.tiles`), row 0 the lowest bin.
* ``/api/audio?file=F&start=S&end=E&channel=C&f_lo=&f_hi=&format=pcm16|float``
  ``&iterations=N``: WAV of the range ``S .. E`` seconds (see
  :mod:`msft_cli.view.audio`; ``iterations`` for magnitude containers),
  streamed as it is made.
"""

import hmac
import json
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import webbrowser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np

from . import audio, tiles
from ._lib import (
    CONTAINER_EXTENSIONS,
    FLOOR_DB,
    AudioError,
    ContainerError,
    MsftError,
    ParameterError,
    analyze,
    choice,
    input_kind,
    load,
)

HOST = "127.0.0.1"

#: The page's files: URL name -> (package file, content type).
STATIC = {
    "viewer.js": "application/javascript; charset=utf-8",
    "viewer.css": "text/css; charset=utf-8",
    "colormaps.js": "application/javascript; charset=utf-8",
}


class BadRequest(Exception):
    """A request the server refuses: an HTTP status and a one-line reason."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Viewer:
    """The files a server shows: containers opened, audio files analysed on the fly.

    Parameters
    ----------
    paths : list of str or Path
        Containers or audio files. Audio files are analysed (default
        parameters) into containers in a temporary folder, removed by
        :meth:`close`.
    min_level : int
        The overview's first level (see :data:`msft_cli.view.tiles.MIN_LEVEL`).
    echo : callable, optional
        Where progress lines go (``echo(str)``).
    """

    def __init__(self, paths, min_level=tiles.MIN_LEVEL, echo=None):
        if not paths:
            raise ParameterError("no input given")
        self.folder = Path(tempfile.mkdtemp(prefix="msft-view-"))
        self.token = secrets.token_urlsafe(24)
        self.names, self.boxes, self.tiles = [], [], []
        self.locks = []  # one per file: its transform's synthesis buffers are shared
        try:
            for i, path in enumerate(map(Path, paths)):
                kind = input_kind(path)
                if kind == "missing":
                    missing = (ContainerError if path.suffix.lower() in CONTAINER_EXTENSIONS
                               else AudioError)
                    raise missing(f"{path}: no such file")
                if kind not in ("container", "audio"):
                    raise ParameterError(f"{path}: is a {kind}: msft view shows a container "
                                         "or an audio file")
                box_path = path
                if kind == "audio":
                    if echo:
                        echo(f"Analysing {path} ...")
                    box_path = self.folder / f"{i}-{path.stem}.h5"
                    analyze(path, box_path)
                box = load(box_path)
                self.boxes.append(box)
                self.locks.append(threading.Lock())
                self.names.append(path.name)
                work = self.folder / f"overview-{i}"
                work.mkdir()
                self.tiles.append(tiles.Tiles(box, work, min_level))
        except BaseException:
            self.close()
            raise

    def start_overviews(self):
        """Build every file's overview in the background."""
        for t in self.tiles:
            t.overview.start()

    def describe(self, i):
        """What the page needs to know about file ``i``."""
        box, t = self.boxes[i], self.tiles[i]
        tr = box.transform
        return {"id": i, "name": self.names[i], "sr": box.sr, "n_samples": box.n_samples,
                "n_channels": box.n_channels, "duration": box.duration,
                "store": box.store, "bins_per_octave": tr.bins_per_octave,
                "n_octaves": tr.n_octaves, "tuning": tr.tuning,
                "frequencies": [float(f) for f in np.concatenate(tr.frequencies)],
                "top_hop": t.hop, "columns": t.columns, "max_zoom": t.max_zoom,
                "floor_db": FLOOR_DB, "overview_ready": t.overview.ready,
                "overview_seconds": t.overview.seconds, "overview_bytes": t.overview.nbytes,
                "max_magnitude_seconds": audio.MAX_MAGNITUDE_SECONDS}

    def close(self):
        for box in self.boxes:
            box.close()
        self.boxes = []
        shutil.rmtree(self.folder, ignore_errors=True)


class Handler(BaseHTTPRequestHandler):
    """One request; the server's ``viewer`` holds the files."""

    server_version = "msft-view"
    error_content_type = "text/plain; charset=utf-8"
    error_message_format = "Error: %(message)s\n"

    def log_message(self, format, *args):  # quiet: the terminal shows only the URL
        if getattr(self.server, "verbose", False):
            super().log_message(format, *args)

    def do_GET(self):
        try:
            self._route()
        except BadRequest as exc:
            self._fail(exc.status, str(exc))
        except ParameterError as exc:
            self._fail(HTTPStatus.BAD_REQUEST, str(exc))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except MsftError as exc:  # a damaged container: the file's fault, said in one line
            self._fail(HTTPStatus.INTERNAL_SERVER_ERROR, str(exc))
        except Exception as exc:  # never a traceback, never a dead server
            print(f"msft view: {self.path.split('?')[0]}: {type(exc).__name__}: {exc}",
                  file=sys.stderr)
            self._fail(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")

    def _other(self):
        self._fail(HTTPStatus.METHOD_NOT_ALLOWED, "only GET is served")

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _other

    def _fail(self, status, message):
        body = f"Error: {' '.join(message.split())}\n".encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # -- routing -------------------------------------------------------------
    def _route(self):
        viewer = self.server.viewer
        url = urlsplit(self.path)
        try:
            query = parse_qs(url.query, keep_blank_values=True, strict_parsing=False,
                             max_num_fields=32)
        except ValueError as exc:
            raise BadRequest(HTTPStatus.BAD_REQUEST, f"bad query: {exc}") from None
        token = query.get("token", [""])[-1]
        if not hmac.compare_digest(token.encode(), viewer.token.encode()):
            raise BadRequest(HTTPStatus.FORBIDDEN, "a valid token is required: use the URL "
                                                   "msft view printed")
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]").lower()
        if host not in ("127.0.0.1", "localhost"):
            raise BadRequest(HTTPStatus.FORBIDDEN, "the Host header must be 127.0.0.1 or "
                                                   "localhost")
        path = url.path
        if path in ("/", "/index.html"):
            text = _static_text("index.html").replace("{{TOKEN}}", viewer.token)
            return self._send(text.encode(), "text/html; charset=utf-8")
        if path.startswith("/static/"):
            name = path[len("/static/"):]
            if name not in STATIC:
                raise BadRequest(HTTPStatus.NOT_FOUND, f"no such page file: {name[:80]!r}")
            return self._send(_static_text(name).encode(), STATIC[name])
        if path == "/api/files":
            files = [viewer.describe(i) for i in range(len(viewer.boxes))]
            return self._send(json.dumps({"files": files}).encode(), "application/json")
        if path == "/api/tile":
            return self._tile(viewer, query)
        if path == "/api/audio":
            return self._audio(viewer, query)
        raise BadRequest(HTTPStatus.NOT_FOUND, f"no such resource: {path[:80]!r}")

    def _send(self, body, content_type, headers=()):
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _tile(self, viewer, query):
        i = _file(viewer, query)
        t = viewer.tiles[i]
        z, x = _int(query, "z"), _int(query, "x")
        channel = _channel(query)
        if channel != "mix" and not channel < viewer.boxes[i].n_channels:
            raise ParameterError(f"channel={channel} does not exist: "
                                 f"0..{viewer.boxes[i].n_channels - 1} or 'mix'")
        try:
            t.check(z, x)
        except ParameterError as exc:
            raise BadRequest(HTTPStatus.NOT_FOUND, str(exc)) from None
        db = t.tile(z, x, channel)
        self._send(np.ascontiguousarray(db, "<f4").tobytes(), "application/octet-stream",
                   [("X-Rows", str(db.shape[0])), ("X-Columns", str(db.shape[1]))])

    def _audio(self, viewer, query):
        i = _file(viewer, query)
        box = viewer.boxes[i]
        first, stop = audio.check_range(box, _float(query, "start"), _float(query, "end"),
                                        audio.MAX_MAGNITUDE_SECONDS)
        channel = _channel(query)
        rows = audio.channels_of(box, channel)
        band = audio.Band(_float(query, "f_lo", None), _float(query, "f_hi", None))
        fmt = _one(query, "format", "pcm16")
        choice("format", fmt, audio.FORMATS)
        iterations = _int(query, "iterations", audio.DEFAULT_ITERATIONS)
        if not 0 <= iterations <= 200:
            raise ParameterError(f"iterations={iterations} must be 0..200")
        parts = audio.segments(box, first, stop, channel, band, iterations, viewer.locks[i])
        head = next(parts)  # errors before the headers become a status
        header = audio.wav_header(stop - first, len(rows), box.sr, fmt)
        width = 2 if fmt == "pcm16" else 4
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "audio/wav")
        self.send_header("Content-Length", str(len(header) + (stop - first) * len(rows) * width))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(header)
        self.wfile.write(audio.wav_bytes(head, fmt))
        try:
            for block in parts:
                self.wfile.write(audio.wav_bytes(block, fmt))
        except (BrokenPipeError, ConnectionResetError):  # the page stopped listening
            self.close_connection = True
        except Exception as exc:  # too late for a status: cut the stream short
            print(f"msft view: audio: {type(exc).__name__}: {exc}", file=sys.stderr)
            self.close_connection = True


def _static_text(name):
    return resources.files(__package__).joinpath("static", name).read_text("utf-8")


def _one(query, key, default=...):
    values = query.get(key)
    if not values or values[-1] == "":
        if default is ...:
            raise ParameterError(f"{key} is required")
        return default
    if len(values[-1]) > 64:
        raise ParameterError(f"{key} is too long")
    return values[-1]


def _int(query, key, default=...):
    v = _one(query, key, default)
    if v is default:
        return v
    try:
        return int(v)
    except ValueError:
        raise ParameterError(f"{key}={v!r} must be an integer") from None


def _float(query, key, default=...):
    v = _one(query, key, default)
    if v is default:
        return v
    try:
        f = float(v)
    except ValueError:
        raise ParameterError(f"{key}={v!r} must be a number") from None
    if not np.isfinite(f):
        raise ParameterError(f"{key}={v!r} must be finite")
    return f


def _channel(query):
    v = _one(query, "channel", "mix")
    if v == "mix":
        return "mix"
    try:
        c = int(v)
    except ValueError:
        raise ParameterError(f"channel={v!r} must be a channel number or 'mix'") from None
    if c < 0:
        raise ParameterError(f"channel={c} must be at least 0")
    return c


def _file(viewer, query):
    v = _one(query, "file", "0")
    if not v.isdigit() or int(v) >= len(viewer.boxes):
        raise BadRequest(HTTPStatus.NOT_FOUND, f"file={v!r}: files are numbered "
                                               f"0..{len(viewer.boxes) - 1}")
    return int(v)


class Server(ThreadingHTTPServer):
    """A threading HTTP server on 127.0.0.1 serving one :class:`Viewer`."""

    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, viewer, port=0, verbose=False):
        try:
            super().__init__((HOST, port), Handler)
        except OSError as exc:
            raise MsftError(f"cannot listen on {HOST}:{port} "
                            f"({exc.strerror or exc})") from exc
        self.viewer = viewer
        self.verbose = verbose

    @property
    def url(self):
        return f"http://{HOST}:{self.server_address[1]}/?token={self.viewer.token}"

    def handle_error(self, request, client_address):  # one line, never a traceback
        exc = sys.exc_info()[1]
        if not isinstance(exc, (BrokenPipeError, ConnectionResetError)):
            print(f"msft view: {type(exc).__name__}: {exc}", file=sys.stderr)


def start(paths, port=0, min_level=tiles.MIN_LEVEL, echo=None):
    """A server for ``paths`` running in a background thread (tests, notebooks).

    Returns the :class:`Server`; ``server.url`` is the page, ``stop(server)`` ends it.
    """
    viewer = Viewer(paths, min_level, echo)
    try:
        server = Server(viewer, port)
    except BaseException:
        viewer.close()
        raise
    viewer.start_overviews()
    threading.Thread(target=server.serve_forever, name="msft-view", daemon=True).start()
    return server


def stop(server):
    """Stop a server made by :func:`start` and remove its temporary files."""
    server.shutdown()
    server.server_close()
    server.viewer.close()


def serve(paths, port=0, browser=True, echo=print):
    """What ``msft view`` does: serve ``paths`` until Ctrl-C, then clean up.

    Prints the URL (with its token); opens it in the default browser unless
    ``browser`` is False.
    """
    viewer = Viewer(paths, echo=echo)
    previous = None
    if threading.current_thread() is threading.main_thread():  # a kill stops it like Ctrl-C
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        server = Server(viewer, port)
        with server:
            viewer.start_overviews()
            echo(f"msft view: {', '.join(viewer.names)} at {server.url}")
            echo("Press Ctrl-C to stop.")
            if browser:
                threading.Thread(target=webbrowser.open, args=(server.url,),
                                 daemon=True).start()
            try:
                server.serve_forever()
            except KeyboardInterrupt:
                echo("Stopped.")
    finally:
        viewer.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum, frame):
    raise KeyboardInterrupt
