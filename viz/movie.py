"""Time-lapse movies across the snapshots of a run file: a fixed camera and fixed colours."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from tissue.errors import InputError
from tissue.io.runfile import RunReader
from viz.scene import RenderOptions, SnapshotScene, resolve


def field_range(reader: RunReader, organ: str, field: str) -> tuple[float, float]:
    """The field's range over the whole run, from the recorded ``<organ>.<field>.min/max``
    observables when present (no volume is read), else from the snapshots."""
    series = reader.timeseries()
    lo_key, hi_key = f"{organ}.{field}.min", f"{organ}.{field}.max"
    if lo_key in series and hi_key in series and series[lo_key].size:
        return float(np.nanmin(series[lo_key])), float(np.nanmax(series[hi_key]))
    lo, hi = np.inf, -np.inf
    for snap in reader.snapshots:
        values = reader.field(snap.index, organ, field)
        lo, hi = min(lo, float(values.min())), max(hi, float(values.max()))
    return lo, hi


def check_movie_path(path: str | Path) -> Path:
    """``path`` if it names a .mp4 or .gif file, else an InputError."""
    path = Path(path)
    if path.suffix.lower() not in (".mp4", ".gif"):
        raise InputError("-o", str(path), "allowed: a .mp4 or .gif file")
    return path


def write_movie(
    reader: RunReader,
    path: str | Path,
    options: RenderOptions,
    fps: float = 4.0,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Render every snapshot into ``path`` (.mp4 through ffmpeg, or .gif); returns the
    number of frames. ``progress(done, total)`` is called after each frame."""
    import imageio.v2 as imageio

    path = check_movie_path(path)
    if not reader.snapshots:
        raise InputError(reader.source, "snapshots", "the run file has no snapshots yet")
    organ, field = resolve(reader, options)
    if field and options.clim is None:
        options.clim = field_range(reader, organ, field)
    scene = SnapshotScene(reader, options)
    total = len(reader.snapshots)
    if path.suffix.lower() == ".gif":
        writer = imageio.get_writer(path, mode="I", duration=1000.0 / fps, loop=0)
    else:
        writer = imageio.get_writer(path, fps=fps, codec="libx264", quality=7,
                                    macro_block_size=16)  # fmt: skip
    try:
        for done, snap in enumerate(reader.snapshots, start=1):
            writer.append_data(scene.draw(snap.index))
            if progress is not None:
                progress(done, total)
    finally:
        writer.close()
        scene.close()
    return total
