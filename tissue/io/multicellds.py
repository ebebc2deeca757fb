"""PhysiCell's output format, MultiCellDS v2: read with NumPy, and written from a run file.

An output ``outputNNNNNNNN.xml`` (or ``initial.xml``, ``final.xml``) holds the simulated time
(``metadata/current_time``, min) and, under ``cellular_information/cell_populations/
cell_population/custom/simplified_data``, the cell types (``cell_types/type``: ID, name), the
column legend (``labels/label``: index, size, name) and the file name of the cell table
(``filename``, ``..._cells.mat``, beside the XML).

The ``.mat`` file is MATLAB level 4: a 20-byte header of five little-endian int32 (type code
0 = little-endian float64 full matrix, rows, columns, imaginary flag, name length), the name
(PhysiCell writes its length without the terminating NUL; MATLAB's own writer counts it), then
rows x columns float64 in column-major order. PhysiCell writes one column per cell and one row
per datum, so a label of index i and size k is rows i..i+k-1.

:func:`export_physicell` writes a run's snapshots in this format (``tissue export-physicell``;
``tissue.export_physicell`` in Python), so
that PhysiCell's tools read them (pcdl loads them; a test checks). For each snapshot k of
an organ: ``output%08d.xml`` with the metadata, the mesh (voxel centres and bounding box, um),
the fields as BioFVM variables (name, units, diffusion coefficient and decay) and the cells'
legend; ``_microenvironment0.mat`` (``multiscale_microenvironment``: x, y, z, voxel volume
and one row per field, voxels x fastest as BioFVM orders them); ``_cells.mat``;
``_cell_neighbor_graph.txt`` (cells touching: centres closer than the sum of their adhesion
reaches) and ``_attached_cells_graph.txt`` (an attacker and its target list each other);
and ``initial_mesh0.mat`` once. The cells' labels: ``ID``, ``position`` (um),
``total_volume`` (um^3, from the radius of the cell's volume model), ``cell_type`` (codes
and names as the scenario orders them), ``cycle_model``, ``current_phase`` and
``current_death_model`` in PhysiCell's codes (a live cell: the live cycle model 5 in phase
14; an apoptotic one: death model 100, phase 100; a necrotic one: 101, phase 103),
``elapsed_time_in_phase`` (min in its state), ``dead``, ``chemotaxis_index`` (the index
of its type's chemotactic field, of the largest sensitivity where it senses several, 0
without one), then tissue's own columns (``age_min``, ``founder``, ``partner``) and the
scenario's cell attributes by name.
"""

from __future__ import annotations

import math
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from tissue.attack import partner_rows
from tissue.cells import APOPTOTIC, BASE_COLUMNS, LIVE, NECROTIC
from tissue.config import Scenario
from tissue.errors import InputError
from tissue.grid import Grid
from tissue.io.runfile import RunReader
from tissue.kernels.cells import build_cell_grid, contact_pairs
from tissue.organ import CellTypes, cell_columns

SIMPLIFIED_DATA = "cellular_information/cell_populations/cell_population/custom/simplified_data"
HEADER = struct.Struct("<5i")


def read_mat4(path: str | Path) -> tuple[str, np.ndarray]:
    """The first matrix of a MATLAB level-4 file: its name and (rows, columns) float64 values.

    Raises:
        ValueError: a header this reader does not handle (big-endian, not float64, complex,
            sparse) or a file shorter than its header says.
    """
    raw = Path(path).read_bytes()
    if len(raw) < HEADER.size:
        raise ValueError(f"{path}: {len(raw)} bytes, shorter than a MATLAB v4 header")
    type_code, rows, columns, imaginary, name_length = HEADER.unpack_from(raw)
    if type_code != 0 or imaginary != 0:
        raise ValueError(
            f"{path}: MATLAB v4 type {type_code}, imaginary {imaginary}; "
            "only little-endian real float64 full matrices (type 0) are read"
        )
    start = HEADER.size + name_length
    name = raw[HEADER.size : start].rstrip(b"\0").decode("ascii", errors="replace")
    count = rows * columns
    if len(raw) < start + 8 * count:
        raise ValueError(f"{path}: holds {len(raw) - start} data bytes, needs {8 * count}")
    values = np.frombuffer(raw, dtype="<f8", count=count, offset=start)
    return name, values.reshape((rows, columns), order="F").copy()


def write_mat4(path: str | Path, name: str, values: np.ndarray) -> None:
    """Write a (rows, columns) float64 matrix as MATLAB level 4, the name NUL-terminated."""
    matrix = np.asarray(values, dtype="<f8")
    if matrix.ndim != 2:
        raise ValueError(f"need a 2-D matrix, got shape {matrix.shape}")
    encoded = name.encode("ascii") + b"\0"
    header = HEADER.pack(0, matrix.shape[0], matrix.shape[1], 0, len(encoded))
    Path(path).write_bytes(header + encoded + matrix.tobytes(order="F"))


@dataclass(frozen=True)
class Label:
    """One entry of the column legend: rows ``index`` .. ``index + size - 1`` of the table."""

    name: str
    index: int
    size: int


@dataclass(frozen=True)
class Output:
    """One PhysiCell output: the simulated time (min), cell type names by ID and the cells.

    ``columns`` maps each label's name to its values: (n,) float64 for a size-1 label,
    (n, size) for a vector (``position``: (n, 3), um).
    """

    time_min: float
    cell_types: dict[int, str]
    columns: dict[str, np.ndarray]

    @property
    def count(self) -> int:
        """Number of cells."""
        return int(next(iter(self.columns.values())).shape[0]) if self.columns else 0


def read_labels(root: ET.Element) -> list[Label]:
    """The column legend of a MultiCellDS v2 document (its root element)."""
    labels = root.findall(f"{SIMPLIFIED_DATA}/labels/label")
    if not labels:
        raise ValueError(f"no {SIMPLIFIED_DATA}/labels in the document: not MultiCellDS v2?")
    return [
        Label((label.text or "").strip(), int(label.attrib["index"]), int(label.attrib["size"]))
        for label in labels
    ]


def read_output(xml_path: str | Path) -> Output:
    """Read one PhysiCell output XML and the cell table it names (see the module docstring)."""
    xml_path = Path(xml_path)
    root = ET.parse(xml_path).getroot()
    time_node = root.find("metadata/current_time")
    if time_node is None or time_node.text is None:
        raise ValueError(f"{xml_path}: no metadata/current_time")
    data = root.find(SIMPLIFIED_DATA)
    filename = None if data is None else data.findtext("filename")
    if filename is None:
        raise ValueError(f"{xml_path}: no {SIMPLIFIED_DATA}/filename")
    cell_types = {
        int(node.attrib["ID"]): (node.text or "").strip()
        for node in root.findall(f"{SIMPLIFIED_DATA}/cell_types/type")
    }
    labels = read_labels(root)
    _, table = read_mat4(xml_path.parent / filename.strip())
    rows_needed = max(label.index + label.size for label in labels)
    if table.shape[0] < rows_needed and table.shape[1] > 0:
        raise ValueError(f"{xml_path}: table has {table.shape[0]} rows, labels need {rows_needed}")
    columns: dict[str, np.ndarray] = {}
    for label in labels:
        block = table[label.index : label.index + label.size].T  # (n, size)
        columns[label.name] = block[:, 0].copy() if label.size == 1 else block.copy()
    return Output(float(time_node.text), cell_types, columns)


def write_output(
    xml_path: str | Path,
    time_min: float,
    cell_types: dict[int, str],
    columns: dict[str, np.ndarray],
) -> None:
    """Write a MultiCellDS v2 output (XML + ``<stem>_cells.mat``) holding ``columns`` in
    order: each (n,) or (n, size); a minimal document with only what :func:`read_output`
    reads."""
    xml_path = Path(xml_path)
    mat_name = f"{xml_path.stem}_cells.mat"
    root = ET.Element("MultiCellDS", version="2")
    metadata = ET.SubElement(root, "metadata")
    ET.SubElement(metadata, "current_time", units="min").text = f"{time_min:f}"
    node = root
    for part in SIMPLIFIED_DATA.split("/"):
        node = ET.SubElement(node, part)
    table = _simplified_data(node, cell_types, {k: (v, "none") for k, v in columns.items()})
    node.find("filename").text = mat_name  # type: ignore[union-attr]
    ET.ElementTree(root).write(xml_path, encoding="utf-8", xml_declaration=True)
    write_mat4(xml_path.parent / mat_name, "cells", table)


def _simplified_data(
    node: ET.Element, cell_types: dict[int, str], columns: dict[str, tuple[np.ndarray, str]]
) -> np.ndarray:
    """Fill ``node`` (a ``simplified_data`` element) with the cell types, the legend of
    ``columns`` (name -> ((n,) or (n, size) values, units), in order) and an empty
    ``filename``; returns the cell table (rows, n) float64."""
    node.attrib.update(type="matlab", source="PhysiCell", data_version="2")
    types = ET.SubElement(node, "cell_types")
    for type_id, name in cell_types.items():
        ET.SubElement(types, "type", ID=str(type_id), type=str(type_id)).text = name
    labels = ET.SubElement(node, "labels")
    blocks, index = [], 0
    for name, (values, units) in columns.items():
        block = np.asarray(values, dtype=np.float64)
        block = block[:, None] if block.ndim == 1 else block
        size = str(block.shape[1])
        ET.SubElement(labels, "label", index=str(index), size=size, units=units).text = name
        blocks.append(block)
        index += block.shape[1]
    ET.SubElement(node, "filename")
    return np.hstack(blocks).T


# PhysiCell's codes (core/PhysiCell_constants.h): the live cycle model and its phase, the
# death models and their phases
LIVE_CYCLE_MODEL, LIVE_PHASE = 5, 14
APOPTOSIS_MODEL, APOPTOTIC_PHASE = 100, 100
NECROSIS_MODEL, NECROTIC_PHASE = 101, 103


def _coordinates(values: np.ndarray) -> str:
    """Numbers as PhysiCell's readers parse them, exactly (pcdl matches voxel centres to
    these to 1e-10)."""
    return " ".join(f"{v:.17g}" for v in values)


def export_physicell(
    run_path: str | Path, out_dir: str | Path, organ: str | None = None, overwrite: bool = False
) -> list[Path]:
    """Write every snapshot of a run file as PhysiCell output (see the module docstring).

    Args:
        run_path: a ``run.h5``. out_dir: the folder to write (made if absent).
        organ: the organ to write; by default the run's only organ, or each organ in its own
            subfolder ``out_dir/<organ>`` when there are several.
        overwrite: replace PhysiCell output already in a folder written to (else refused,
            so that no stale output mixes with the new).

    Returns:
        The XML files written, in order.

    Raises:
        InputError: an unreadable run file, an unknown organ, a run without snapshots, or
            a folder that holds PhysiCell output already (without ``overwrite``).
    """
    reader = RunReader(run_path)
    if not reader.snapshots:
        raise InputError(reader.source, "snapshots", "the run file has no snapshots to export")
    out_dir = Path(out_dir)
    if organ is not None:
        reader.organ_info(organ)
        targets = {organ: out_dir}
    elif len(reader.organs) == 1:
        targets = {next(iter(reader.organs)): out_dir}
    else:
        targets = {name: out_dir / name for name in reader.organs}
    for folder in targets.values():
        old = sorted(folder.glob("output*")) + sorted(folder.glob("initial_mesh0.mat"))
        if old and not overwrite:
            raise InputError(
                str(folder), "", "holds PhysiCell output already; use --overwrite to replace it"
            )
        for stale in old:
            stale.unlink()
    written = []
    for name, folder in targets.items():
        written += _export_organ(reader, name, folder)
    return written


def _export_organ(reader: RunReader, organ: str, out_dir: Path) -> list[Path]:
    """Write ``organ``'s snapshots to ``out_dir``."""
    scenario = reader.scenario()
    info = reader.organ_info(organ)
    grid = info.grid
    out_dir.mkdir(parents=True, exist_ok=True)
    nz, ny, nx = grid.shape_zyx
    centres = [
        origin + (np.arange(count) + 0.5) * spacing
        for origin, spacing, count in zip(
            grid.origin_xyz_um, grid.spacing_xyz_um, (nx, ny, nz), strict=True
        )
    ]
    z, y, x = np.meshgrid(centres[2], centres[1], centres[0], indexing="ij")
    voxel_volume = math.prod(grid.spacing_xyz_um)
    mesh = np.stack([x.ravel(), y.ravel(), z.ravel(), np.full(x.size, voxel_volume)])
    write_mat4(out_dir / "initial_mesh0.mat", "mesh", mesh)
    types = CellTypes.from_scenario(np, scenario)
    needed = {*BASE_COLUMNS, *cell_columns(scenario)}
    written = []
    for snap in reader.snapshots:
        base = f"output{snap.index:08d}"
        values = [reader.field(snap.index, organ, f).reshape(-1) for f in info.fields]
        write_mat4(
            out_dir / f"{base}_microenvironment0.mat",
            "multiscale_microenvironment",
            np.vstack([mesh, *values]) if values else mesh,
        )
        cells = reader.cells(snap.index, organ)
        missing = sorted(needed - set(cells))
        if missing:
            wrote = f"commit {reader.tissue_commit}" if reader.tissue_commit else "a tissue"
            raise InputError(
                reader.source,
                f"snapshots/{snap.name}/{organ}/cells",
                f"has no {', '.join(missing)}: written by {wrote} "
                f"({reader.tissue_version}), whose cells this tissue's model does not read; "
                "export it with that tissue",
            )
        radius = types.radius(_cells_view(cells))  # (n,) float32 um
        columns = _cell_columns(cells, radius, types, info.fields)
        root = _document(scenario, reader, snap.time_min, centres, grid, info.fields, base)
        node = root.find(SIMPLIFIED_DATA)
        assert node is not None
        table = _simplified_data(node, dict(enumerate(types.names)), columns)
        node.find("filename").text = f"{base}_cells.mat"  # type: ignore[union-attr]
        write_mat4(out_dir / f"{base}_cells.mat", "cells", table)
        custom = root.find(SIMPLIFIED_DATA.rsplit("/", 1)[0])
        assert custom is not None
        graphs = _graphs(cells, radius, types, grid)
        for tag, suffix, lines in zip(
            ("neighbor_graph", "attached_cells_graph"),
            ("cell_neighbor_graph", "attached_cells_graph"),
            graphs,
            strict=True,
        ):
            element = ET.SubElement(custom, tag, type="text", source="PhysiCell", data_version="2")
            ET.SubElement(element, "filename").text = f"{base}_{suffix}.txt"
            (out_dir / f"{base}_{suffix}.txt").write_text("\n".join(lines))
        ET.indent(root)
        path = out_dir / f"{base}.xml"
        ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
        written.append(path)
    return written


def _document(
    scenario: Scenario,
    reader: RunReader,
    time_min: float,
    centres: list[np.ndarray],
    grid: Grid,
    fields: list[str],
    base: str,
) -> ET.Element:
    """The XML of one output without its cells' legend (an empty ``simplified_data``)."""
    root = ET.Element("MultiCellDS", version="2", type="snapshot/simulation")
    metadata = ET.SubElement(root, "metadata")
    software = ET.SubElement(metadata, "software")
    ET.SubElement(software, "name").text = "tissue"
    ET.SubElement(software, "version").text = reader.tissue_version  # the one that ran it
    ET.SubElement(metadata, "created").text = datetime.now(UTC).isoformat(timespec="seconds")
    ET.SubElement(metadata, "current_time", units="min").text = repr(float(time_min))
    ET.SubElement(metadata, "current_runtime", units="sec").text = "0"  # not recorded
    ET.SubElement(
        metadata, "description"
    ).text = f"{reader.scenario_name}, seed {reader.seed}, {reader.backend}; run {reader.run_id}"
    domain = ET.SubElement(
        ET.SubElement(root, "microenvironment"), "domain", name="microenvironment"
    )
    mesh = ET.SubElement(domain, "mesh", type="Cartesian", uniform="true", regular="true",
                         units="micron")  # fmt: skip
    low = np.asarray(grid.origin_xyz_um, dtype=np.float64)
    high = low + np.asarray(grid.extent_xyz_um, dtype=np.float64)
    ET.SubElement(mesh, "bounding_box", type="axis-aligned", units="micron",
                  delimiter=" ").text = _coordinates(np.concatenate([low, high]))  # fmt: skip
    for axis, values in zip("xyz", centres, strict=True):
        ET.SubElement(mesh, f"{axis}_coordinates", delimiter=" ").text = _coordinates(values)
    ET.SubElement(
        ET.SubElement(mesh, "voxels", type="matlab"), "filename"
    ).text = "initial_mesh0.mat"
    variables = ET.SubElement(domain, "variables")
    for index, name in enumerate(fields):
        config = scenario.fields[name]
        variable = ET.SubElement(variables, "variable", name=name, units=config.units,
                                 ID=str(index))  # fmt: skip
        physical = ET.SubElement(variable, "physical_parameter_set")
        ET.SubElement(physical, "diffusion_coefficient", units="micron^2/min").text = repr(
            float(config.diffusion_um2_per_min)
        )
        ET.SubElement(physical, "decay_rate", units="1/min").text = repr(
            float(config.decay_per_min)
        )
    data = ET.SubElement(domain, "data", type="matlab")
    ET.SubElement(data, "filename").text = f"{base}_microenvironment0.mat"
    node = root
    for part in SIMPLIFIED_DATA.split("/"):
        node = ET.SubElement(node, part)
        if part == "cell_population":
            node.set("type", "individual")
    return root


def _cells_view(cells: dict[str, np.ndarray]) -> SimpleNamespace:
    """The columns as the cell types' volume model reads a store."""
    return SimpleNamespace(xp=np, n=int(cells["id"].shape[0]), **cells)


def _cell_columns(
    cells: dict[str, np.ndarray], radius: np.ndarray, types: CellTypes, fields: list[str]
) -> dict[str, tuple[np.ndarray, str]]:
    """The cells' labels in order: name -> (values, units) (see the module docstring);
    ``radius`` (n,) um from the types' volume model."""
    state, kind = cells["state"], cells["type"].astype(np.int64)
    live, apoptotic = state == LIVE, state == APOPTOTIC
    radius = radius.astype(np.float64)
    chemotaxis = np.asarray([fields.index(f) if f in fields else 0 for f in types.chemotaxis_field])
    columns: dict[str, tuple[np.ndarray, str]] = {
        "ID": (cells["id"], "none"),
        "position": (cells["position_um"], "microns"),
        "total_volume": (4.0 / 3.0 * math.pi * radius**3, "cubic microns"),
        "cell_type": (kind, "none"),
        "cycle_model": (
            np.where(live, LIVE_CYCLE_MODEL, np.where(apoptotic, APOPTOSIS_MODEL, NECROSIS_MODEL)),
            "none",
        ),
        "current_phase": (
            np.where(live, LIVE_PHASE, np.where(apoptotic, APOPTOTIC_PHASE, NECROTIC_PHASE)),
            "none",
        ),
        "elapsed_time_in_phase": (cells["state_time_min"], "min"),
        "dead": (~live, "none"),
        "current_death_model": (
            np.where(state == NECROTIC, NECROSIS_MODEL, APOPTOSIS_MODEL),
            "none",
        ),
        "chemotaxis_index": (chemotaxis[kind], "none"),
    }
    units = {"direction": "none", "age_min": "min", "attached_min": "min"}
    for name in ("direction", "age_min", "attached_min", "partner", "founder"):
        columns[name] = (cells[name], units.get(name, "none"))
    for name in sorted(set(cells) - set(BASE_COLUMNS)):  # the scenario's attributes
        columns[name] = (cells[name], "none")
    return columns


def _graphs(
    cells: dict[str, np.ndarray], radius: np.ndarray, types: CellTypes, grid: Grid
) -> tuple[list[str], list[str]]:
    """Lines ``ID: id,id,...`` per cell of the neighbour graph (touching cells: centres
    closer than the sum of their adhesion reaches, as tissue's contacts) and of the
    attached-cells graph (an attacker and its target)."""
    ids = cells["id"]
    n = int(ids.shape[0])
    positions = cells["position_um"].astype(np.float32)
    reach = (types.of("adhesion_range", cells["type"]) * radius).astype(np.float32)
    cell_grid = build_cell_grid(
        np, positions, grid.origin_xyz_um, grid.extent_xyz_um, types.max_interaction_um
    )
    i, j = contact_pairs(np, positions, reach, cell_grid)
    neighbours: list[list[int]] = [[] for _ in range(n)]
    for a, b in zip(i.tolist(), j.tolist(), strict=True):
        neighbours[a].append(int(ids[b]))
    partner = cells["partner"]
    row, found = partner_rows(np, _cells_view(cells))
    attached: list[list[int]] = [[] for _ in range(n)]
    for a in np.nonzero(found)[0].tolist():
        attached[a].append(int(partner[a]))
        attached[int(row[a])].append(int(ids[a]))
    return tuple(  # type: ignore[return-value]
        [f"{int(ids[k])}: " + ",".join(str(x) for x in sorted(set(lists[k]))) for k in range(n)]
        for lists in (neighbours, attached)
    )
