"""PhysiCell's output, read with NumPy: MultiCellDS v2 XML and its MATLAB level-4 cell table.

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

:func:`write_mat4` and :func:`write_output` write the same layout (the tests build fixtures
with them; nothing here is copied from PhysiCell).
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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
    node.attrib.update(type="matlab", source="PhysiCell", data_version="2")
    types = ET.SubElement(node, "cell_types")
    for type_id, name in cell_types.items():
        ET.SubElement(types, "type", ID=str(type_id), type=str(type_id)).text = name
    labels = ET.SubElement(node, "labels")
    blocks, index = [], 0
    for name, values in columns.items():
        block = np.asarray(values, dtype=np.float64)
        block = block[:, None] if block.ndim == 1 else block
        ET.SubElement(
            labels, "label", index=str(index), size=str(block.shape[1]), units="none"
        ).text = name
        blocks.append(block)
        index += block.shape[1]
    ET.SubElement(node, "filename").text = mat_name
    ET.ElementTree(root).write(xml_path, encoding="utf-8", xml_declaration=True)
    write_mat4(xml_path.parent / mat_name, "cells", np.hstack(blocks).T)
