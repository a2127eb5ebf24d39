"""A container's summary, as ``msft info`` prints it."""


from msft_cli.io.container.reader import load


class ContainerInfo:
    """A readable summary of a container (``str()`` prints it)."""

    def __init__(self, path):
        with load(path) as c:
            self.path = c.path
            self.attrs = c.attrs
            self.transform = c.transform
            self.duration = c.duration
            self.sr, self.n_samples, self.n_channels = c.sr, c.n_samples, c.n_channels
            self.source = c.source
            self.dtype = c.stored_dtype
            self.store = c.store
            self.groups = []
            for g, ds in enumerate(c._datasets):
                spec = c.transform.groups[g]
                self.groups.append({"name": spec.name, "hop": spec.hop,
                                    "bins": ds.shape[1], "frames": ds.shape[2],
                                    "fmin": float(spec.frequencies[0]),
                                    "fmax": float(spec.frequencies[-1]),
                                    "first_time": c.ranges[g][0] * spec.hop / c.sr})
        self.size = self.path.stat().st_size

    def _read_line(self):
        done = _read_for(self.attrs, self.sr, self.n_channels)
        return [f"  read        {done}"] if done else []

    def __str__(self):
        t = self.transform
        src = self.source
        lines = [
            f"{self.path}",
            f"  source      {src['name'] or '?'} ({src['format'] or '?'}, "
            f"{src['subtype'] or '?'})",
            f"  duration    {self.duration:.3f} s ({self.n_samples} samples at {self.sr} Hz), "
            f"{self.n_channels} channel{'s' if self.n_channels != 1 else ''}",
            *self._read_line(),
            f"  transform   fmin {t.fmin:.3f} Hz, {t.bins_per_octave} bins/octave, "
            f"{t.n_octaves} octaves (to {t.fmax:.1f} Hz), window {t.window}, "
            f"tuning {t.tuning:g} Hz, mode {t.mode}"
            + (f", gamma {t.gamma:.4g} Hz" if t.gamma else "")
            + (f", oversample {t.oversample}" if t.oversample != 1 else ""),
            f"  storage     {self.dtype}{' magnitudes' if self.store == 'magnitude' else ''}, "
            f"{_human(self.size)} on disk, format "
            f"{self.attrs['format']} v{self.attrs['format_version']}, msft "
            f"{self.attrs.get('msft_version', '?')}",
            f"  {'band':<11} {'hop':>6} {'bins':>5} {'frames':>8}  {'first':>8}  range",
        ]
        for g in self.groups:
            if g["name"] == "lowpass":
                rng = f"below {t.fmin:.1f} Hz"
            elif g["name"] == "highpass":
                rng = f"above {t.fmax:.1f} Hz"
            else:
                rng = f"{g['fmin']:.1f} .. {g['fmax']:.1f} Hz"
            lines.append(f"  {g['name']:<11} {g['hop']:>6} {g['bins']:>5} {g['frames']:>8}  "
                         f"{g['first_time']:>7.3f}s  {rng}")
        return "\n".join(lines)


def _read_for(attrs, sr, n_channels):
    """What was done to the source on reading (resampling, downmix, excerpt), or None."""
    rate, quality = int(attrs.get("source_rate", 0) or 0), attrs.get("resample_quality", "")
    start, count = int(attrs.get("source_start", 0) or 0), \
        int(attrs.get("source_n_samples", 0) or 0)
    parts = []
    if quality:
        parts.append(f"resampled from {rate} Hz (soxr {quality})")
    if attrs.get("downmix"):
        parts.append(f"{int(attrs.get('source_n_channels', 0))} channels mixed to "
                     f"{n_channels} ({attrs['downmix']})")
    if start and rate:
        parts.append(f"excerpt {start / rate:.3f} s + {count / rate:.3f} s of the source")
    return ", ".join(parts) or None


def _human(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def info(path):
    """Summary of a container: a :class:`ContainerInfo`, printable."""
    return ContainerInfo(path)
