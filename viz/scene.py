"""A 3-D view of one snapshot of a run file: tissue, one field, the invasion front, cells.

What is drawn, all in um in the organ's coordinates:

- the tissue's labelled structures (every label but the most common one: alveolar walls,
  ducts, vessels...) as translucent surfaces;
- one field as a volume rendering, with a colour bar titled with its units;
- the **invasion front**: the isosurface where the smoothed volume fraction of live
  front-type cells (tumour cells by default) equals ``front_level``, drawn whole as a
  translucent magenta shell;
- cells as spheres of their type's radius, coloured by type, greyed when apoptotic and
  dark brown when necrotic;
- a scale bar in um and the simulated time in the title.

Large organs are read with a stride (every k-th voxel in each direction, chosen so that at
most ``max_voxels`` are read): never the whole volume. A cut-away removes the half nearest the
camera (``y`` below the organ's middle) of the tissue, the field and the cells, so that the
inside shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tissue.cells import APOPTOTIC, LIVE, NECROTIC
from tissue.errors import InputError
from tissue.io.runfile import RunReader
from tissue.observables import volume_fraction
from viz.headless import pyvista

VIEWS = {  # camera direction (from the focal point towards the camera) and view-up
    "iso": ((0.55, -1.0, 0.65), (0.0, 0.0, 1.0)),
    "front": ((0.0, -1.0, 0.12), (0.0, 0.0, 1.0)),
    "side": ((1.0, 0.0, 0.12), (0.0, 0.0, 1.0)),
    "top": ((0.0, 0.0, 1.0), (0.0, 1.0, 0.0)),
}
TYPE_COLOURS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"]
LABEL_COLOURS = {  # by words in label names
    "air": "#9ecae1",
    "alveol": "#9ecae1",
    "septum": "#fdd0a2",
    "vessel": "#cb181d",
    "capillar": "#cb181d",
    "blood": "#cb181d",
    "duct": "#fee391",
    "lumen": "#fee391",
    "epitheli": "#fec44f",
    "fat": "#f7f4b6",
    "adipo": "#f7f4b6",
    "wall": "#bdbdbd",
}
NECROTIC_COLOUR = np.array([0.33, 0.2, 0.1])
FRONT_COLOUR = "#e7298a"


@dataclass
class RenderOptions:
    """What to draw and how.

    Attributes:
        organ: organ to show (default: the first). field: field to volume-render (default:
        the organ's first; "" for none). view: camera preset (iso, front, side, top).
        cut: remove the half nearest the camera. size: image (width, height) in pixels.
        max_voxels: most voxels read per volume (a stride is chosen above it).
        front_types: cell types whose density makes the invasion front (default: types
        named like "tumour", else the first type). front_level: volume fraction of those
        cells on the front surface. clim: field colour range (default: the snapshot's).
        opacity: a PyVista opacity transfer function name (default: ramp up towards the
        values that differ from the bulk of the field). color_by: a per-cell attribute
        (e.g. oncoprotein): the cells that have it are coloured by its value (plasma, over
        the live cells' range), the others by type.
    """

    organ: str | None = None
    field: str | None = None
    view: str = "iso"
    cut: bool = True
    size: tuple[int, int] = (1200, 900)
    max_voxels: int = 2_000_000
    front_types: list[str] | None = None
    front_level: float = 0.2
    clim: tuple[float, float] | None = None
    opacity: str | None = None
    color_by: str | None = None


@dataclass
class Volume:
    """A (possibly strided) volume: values (nz, ny, nx) at voxel centres, their spacing
    (dx, dy, dz) and the first centre (x, y, z), in um."""

    values: np.ndarray
    spacing: tuple[float, float, float]
    first_centre: tuple[float, float, float]

    def image(self, pv: Any, name: str) -> Any:
        nz, ny, nx = self.values.shape
        grid = pv.ImageData(dimensions=(nx, ny, nz), spacing=self.spacing, origin=self.first_centre)
        grid.point_data[name] = np.ascontiguousarray(self.values).reshape(-1)
        return grid


def stride_for(shape: tuple[int, ...], max_voxels: int) -> int:
    """Smallest stride k with at most ``max_voxels`` voxels read (every k-th per axis)."""
    k = 1
    while math.prod(-(-n // k) for n in shape) > max_voxels:
        k += 1
    return k


def resolve(reader: RunReader, options: RenderOptions) -> tuple[str, str]:
    """The organ and field (possibly "") to draw, checked against the file."""
    organ = options.organ or next(iter(reader.organs))
    info = reader.organ_info(organ)
    if options.field is None:
        name = info.fields[0] if info.fields else ""
    else:
        name = options.field
        if name and name not in info.fields:
            raise InputError(
                reader.source,
                "--field",
                f"'{name}' is not a field of organ '{organ}'; fields: "
                f"{', '.join(info.fields) or '(none)'}",
            )
    if options.view not in VIEWS:
        raise InputError("--view", options.view, f"allowed: {', '.join(VIEWS)}")
    return organ, name


def read_volume(reader: RunReader, which: int, organ: str, name: str, stride: int) -> Volume:
    """Field ``name`` (or the labels when ``name`` is "labels") read with ``stride``."""
    grid = reader.organs[organ].grid
    step = slice(None, None, stride)
    if name == "labels":
        values = reader.labels(organ, (step, step, step))
    else:
        values = reader.field(which, organ, name, (step, step, step))
    spacing = tuple(d * stride for d in grid.spacing_xyz_um)
    first = tuple(o + 0.5 * d for o, d in zip(grid.origin_xyz_um, grid.spacing_xyz_um, strict=True))
    return Volume(values, spacing, first)  # type: ignore[arg-type]


def cell_colours(
    types: np.ndarray,
    states: np.ndarray,
    values: np.ndarray | None = None,
    value_range: tuple[float, float] = (0.0, 1.0),
) -> np.ndarray:
    """(n, 3) float RGB: by type, or by ``values`` (an attribute; NaN where a cell has none)
    on the plasma map over ``value_range``; greyed when apoptotic, dark brown when
    necrotic."""
    palette = np.array([_rgb(c) for c in TYPE_COLOURS])
    colours = palette[types.astype(np.int64) % len(palette)]
    if values is not None:
        from matplotlib import colormaps

        lo, hi = value_range
        has = ~np.isnan(values)
        scaled = np.clip((values[has] - lo) / max(hi - lo, 1e-30), 0.0, 1.0)
        colours[has] = colormaps["plasma"](scaled)[:, :3]
    apoptotic = states == APOPTOTIC
    colours[apoptotic] = 0.4 * colours[apoptotic] + 0.6 * np.array([0.6, 0.6, 0.6])
    colours[states == NECROTIC] = NECROTIC_COLOUR
    return colours


def _rgb(hex_colour: str) -> tuple[float, float, float]:
    h = hex_colour.lstrip("#")
    return tuple(int(h[i : i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]


def label_colour(name: str, index: int) -> str:
    lowered = name.lower()
    for word, colour in LABEL_COLOURS.items():
        if word in lowered:
            return colour
    return TYPE_COLOURS[(index + 3) % len(TYPE_COLOURS)]


class SnapshotScene:
    """Draws snapshots of one organ of a run file into one off-screen plotter, with a
    fixed camera (set by the first snapshot drawn) so that frames line up in a movie."""

    def __init__(self, reader: RunReader, options: RenderOptions) -> None:
        self.pv = pyvista()
        self.reader = reader
        self.options = options
        self.organ, self.field = resolve(reader, options)
        grid = reader.organs[self.organ].grid
        self.grid = grid
        self.stride = stride_for(grid.shape_zyx, options.max_voxels)
        self.plotter = self.pv.Plotter(off_screen=True, window_size=list(options.size))
        self.plotter.set_background("white")
        self.camera: Any = None
        lo = np.asarray(grid.origin_xyz_um, dtype=np.float64)
        self.bounds = (lo, lo + np.asarray(grid.extent_xyz_um, dtype=np.float64))
        self.middle = 0.5 * (self.bounds[0] + self.bounds[1])
        scenario = reader.scenario()
        self.radius = {name: cfg.radius_um for name, cfg in scenario.cell_types.items()}
        self.units = scenario.fields[self.field].units if self.field else ""
        front = options.front_types
        if front is None:
            front = [t for t in reader.cell_types if "tumo" in t.lower()] or reader.cell_types[:1]
        unknown = [t for t in front if t not in reader.cell_types]
        if unknown:
            raise InputError("--front-type", unknown[0], f"allowed: {', '.join(reader.cell_types)}")
        self.front_types = [reader.cell_types.index(t) for t in front]
        attributes = sorted({a for c in scenario.cell_types.values() for a in c.attributes})
        if options.color_by is not None and options.color_by not in attributes:
            raise InputError(
                "--color-by",
                options.color_by,
                f"allowed: a per-cell attribute ({', '.join(attributes) or 'the run has none'})",
            )
        self.labels = read_volume(reader, -1, self.organ, "labels", self.stride)
        self.tissue = self._tissue_surfaces()

    def _clip(self, mesh: Any) -> Any:
        if not self.options.cut or mesh.n_points == 0:
            return mesh
        return mesh.clip(normal=(0.0, -1.0, 0.0), origin=tuple(self.middle), invert=False)

    def _tissue_surfaces(self) -> list[tuple[Any, str, str]]:
        """(surface, colour, label name) of every label but the most common one."""
        labels = self.labels
        codes, counts = np.unique(labels.values, return_counts=True)
        names = {code: name for name, code in self.reader.organs[self.organ].label_codes.items()}
        out = []
        for index, code in enumerate(codes):
            if code == codes[np.argmax(counts)]:
                continue
            mask = Volume((labels.values == code).astype(np.float32), labels.spacing,
                          labels.first_centre)  # fmt: skip
            image = mask.image(self.pv, "mask")
            surface = image.contour([0.5], scalars="mask")
            if surface.n_points:
                name = names.get(int(code), str(code))
                out.append((self._clip(surface), label_colour(name, index), name))
        return out

    def draw(self, which: int) -> np.ndarray:
        """Render snapshot ``which``; returns the (height, width, 3) uint8 image."""
        plotter = self.plotter
        snap = self.reader.snapshot(which)
        plotter.clear_actors()
        for surface, colour, _name in self.tissue:
            plotter.add_mesh(surface, color=colour, opacity=0.25, smooth_shading=True)
        if self.field:
            self._add_field(which)
        columns = ["position_um", "type", "state"]
        if self.options.color_by:
            columns.append(self.options.color_by)
        cells = self.reader.cells(which, self.organ, columns)
        positions = cells["position_um"].astype(np.float64)
        types, states = cells["type"], cells["state"]
        values = cells.get(self.options.color_by) if self.options.color_by else None
        radius = np.array([self.radius.get(t, 5.0) for t in self.reader.cell_types])[
            types.astype(np.int64)
        ] if len(types) else np.zeros(0)  # fmt: skip
        self._add_front(positions, types, states, radius)
        value_range = self._add_cells(positions, types, states, radius, values)
        day = snap.time_min / 1440
        coloured = ""
        if value_range is not None:
            lo, hi = value_range
            coloured = f"; colour: {self.options.color_by} {lo:.3g}..{hi:.3g}"
        plotter.add_text(
            f"{self.reader.scenario_name}: {self.organ}, day {day:.2f}{coloured}",
            position="upper_edge",
            font_size=12,
            color="black",
        )
        self._add_scale_bar()
        if self.camera is None:
            self._place_camera()
            self.camera = plotter.camera.copy()
        else:
            plotter.camera = self.camera.copy()
        return plotter.screenshot(return_img=True)

    def _add_field(self, which: int) -> None:
        volume = read_volume(self.reader, which, self.organ, self.field, self.stride)
        values = volume.values
        # barrier voxels (air, fat) hold exactly 0: leave them out of the colour range and
        # of the choice of which end shows, or a lung field looks low everywhere
        tissue = values[values != 0]
        tissue = tissue if tissue.size else values
        clim = self.options.clim or (float(tissue.min()), float(tissue.max()))
        if clim[1] <= clim[0]:
            clim = (clim[0], clim[0] + 1.0)
        opacity = self.options.opacity
        if opacity is None:
            typical = float(np.median(tissue))
            opacity = "linear_r" if typical > 0.5 * (clim[0] + clim[1]) else "linear"
        actor = self.plotter.add_volume(
            volume.image(self.pv, self.field),
            scalars=self.field,
            clim=clim,
            cmap="viridis",
            opacity=opacity,
            shade=False,
            scalar_bar_args={
                "title": f"{self.field} ({self.units})" if self.units else self.field,
                "color": "black",
                "vertical": False,
                "position_x": 0.55,
                "position_y": 0.03,
                "width": 0.4,
                "height": 0.08,
                "title_font_size": 16,
                "label_font_size": 14,
            },
        )
        if self.options.cut:
            from vtkmodules.vtkCommonDataModel import vtkPlane

            plane = vtkPlane()
            plane.SetOrigin(*self.middle)
            plane.SetNormal(0.0, 1.0, 0.0)
            actor.mapper.AddClippingPlane(plane)

    def _add_front(
        self, positions: np.ndarray, types: np.ndarray, states: np.ndarray, radius: np.ndarray
    ) -> None:
        chosen = np.isin(types, self.front_types) & (states == LIVE)
        if not chosen.any():
            return
        labels = self.labels
        fraction = Volume(
            volume_fraction(np, positions[chosen], radius[chosen], labels.values.shape,
                            labels.spacing, self.grid.origin_xyz_um),
            labels.spacing,
            labels.first_centre,
        )  # fmt: skip
        if fraction.values.max() <= self.options.front_level:
            return
        surface = fraction.image(self.pv, "front").contour(
            [self.options.front_level], scalars="front"
        )
        if surface.n_points:  # whole (not cut away): a translucent shell around the cells
            self.plotter.add_mesh(
                surface,
                color=FRONT_COLOUR,
                opacity=0.3,
                smooth_shading=True,
                silhouette={"color": FRONT_COLOUR, "line_width": 3.0},
            )

    def _add_cells(
        self,
        positions: np.ndarray,
        types: np.ndarray,
        states: np.ndarray,
        radius: np.ndarray,
        values: np.ndarray | None = None,
    ) -> tuple[float, float] | None:
        """Draw the cells; returns the colour range of ``values`` (None without)."""
        value_range = None
        if values is not None:
            shown = values[(states == LIVE) & ~np.isnan(values)]
            value_range = (float(shown.min()), float(shown.max())) if shown.size else (0.0, 1.0)
        if positions.shape[0] == 0:
            return value_range
        keep = positions[:, 1] >= self.middle[1] if self.options.cut else np.ones(len(types), bool)
        if not keep.any():
            return value_range
        cloud = self.pv.PolyData(positions[keep])
        rgb = cell_colours(
            types[keep],
            states[keep],
            None if values is None else values[keep],
            value_range or (0.0, 1.0),
        )
        cloud.point_data["rgb"] = (rgb * 255).astype(np.uint8)
        cloud.point_data["radius"] = radius[keep]
        if keep.sum() <= 50_000:
            sphere = self.pv.Sphere(radius=1.0, theta_resolution=10, phi_resolution=10)
            glyphs = cloud.glyph(scale="radius", geom=sphere, orient=False)
            self.plotter.add_mesh(glyphs, scalars="rgb", rgb=True, smooth_shading=True)
        else:
            self.plotter.add_mesh(
                cloud, scalars="rgb", rgb=True, render_points_as_spheres=True, point_size=4
            )
        return value_range

    def _add_scale_bar(self) -> None:
        lo, hi = self.bounds
        extent = hi[0] - lo[0]
        length = _nice_length(extent / 3)
        start = (lo[0], lo[1], lo[2])
        self.plotter.add_ruler(
            start,
            (lo[0] + length, lo[1], lo[2]),
            title=f"{length:g} um",
            show_labels=False,
            font_size_factor=0.8,
            label_color="black",
            tick_color="black",
        )

    def _place_camera(self) -> None:
        direction, up = VIEWS[self.options.view]
        lo, hi = self.bounds
        focal = 0.5 * (lo + hi)
        distance = 3.0 * float(np.linalg.norm(hi - lo))
        d = np.asarray(direction, dtype=np.float64)
        d /= np.linalg.norm(d)
        self.plotter.camera_position = [tuple(focal + distance * d), tuple(focal), up]
        self.plotter.enable_parallel_projection()
        self.plotter.reset_camera(bounds=(lo[0], hi[0], lo[1], hi[1], lo[2], hi[2]))

    def close(self) -> None:
        self.plotter.close()


def _nice_length(target: float) -> float:
    """1, 2 or 5 times a power of ten, at most ``target`` (um)."""
    power = 10 ** math.floor(math.log10(max(target, 1e-9)))
    for factor in (5, 2, 1):
        if factor * power <= target:
            return factor * power
    return power


def render(
    reader: RunReader, which: int, options: RenderOptions, path: str | None = None
) -> np.ndarray:
    """Render snapshot ``which`` (negative counts from the end); write a PNG to ``path``
    if given. Returns the (height, width, 3) uint8 image."""
    scene = SnapshotScene(reader, options)
    try:
        image = scene.draw(which)
    finally:
        scene.close()
    if path is not None:
        write_png(image, path)
    return image


def write_png(image: np.ndarray, path: str) -> None:
    from PIL import Image

    Image.fromarray(image).save(path)
