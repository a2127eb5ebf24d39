"""``msft view``: a zoomable, playable multi-resolution viewer in the browser.

A local server (:mod:`.server`) shows containers as tiles of the render
module's raster (:mod:`.tiles`) and plays time ranges resynthesized from
them (:mod:`.audio`); the page (``static/``) is plain JavaScript on a canvas.
"""

from .server import Server, Viewer, serve, start, stop

__all__ = ["Server", "Viewer", "serve", "start", "stop"]
