"""XDMF sidecar of a run file, so that ParaView and VisIt open the snapshots directly.

``run.xmf`` holds no data: it points into ``run.h5``. For each organ it describes a
temporal collection of uniform grids (a 3DCoRectMesh whose cells are the voxels; the label
volume and every field as cell data) and, where there are cells, a temporal collection of
point clouds (Polyvertex) carrying every per-cell column. It is rewritten, atomically, after
each snapshot.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import h5py
import numpy as np

_NUMBER_TYPES = {
    "f": ("Float", None),
    "i": ("Int", None),
    "u": ("UInt", None),
}


def _data_item(dataset: h5py.Dataset, file_name: str) -> str:
    dtype = dataset.dtype
    number, _ = _NUMBER_TYPES[dtype.kind]
    if dtype == np.uint8:
        number = "UChar"
    elif dtype == np.int8:
        number = "Char"
    dims = " ".join(str(n) for n in dataset.shape)
    return (
        f'<DataItem Format="HDF" NumberType="{number}" Precision="{dtype.itemsize}" '
        f'Dimensions="{dims}">{escape(file_name)}:{escape(dataset.name)}</DataItem>'
    )


def _attribute(name: str, dataset: h5py.Dataset, file_name: str, center: str) -> str:
    kind = "Vector" if dataset.ndim == 2 and dataset.shape[1] == 3 else "Scalar"
    if dataset.ndim == 2 and kind == "Scalar":
        return ""  # other multi-component columns have no XDMF attribute type
    return (
        f'<Attribute Name={quoteattr(name)} AttributeType="{kind}" Center="{center}">'
        f"{_data_item(dataset, file_name)}</Attribute>"
    )


def xdmf_text(handle: h5py.File, file_name: str) -> str:
    """The XDMF 2 document describing the open run file ``handle`` (named ``file_name``
    relative to the sidecar)."""
    lines = [
        '<?xml version="1.0" ?>',
        '<!DOCTYPE Xdmf SYSTEM "Xdmf.dtd" []>',
        '<Xdmf Version="2.0">',
        "<Domain>",
    ]
    snapshots = [(name, handle["snapshots"][name]) for name in sorted(handle["snapshots"])]
    for organ, group in handle["organs"].items():
        labels = group["labels"]
        nz, ny, nx = labels.shape
        dx, dy, dz = (float(v) for v in labels.attrs["spacing_um"])
        ox, oy, oz = (float(v) for v in labels.attrs["origin_um"])
        lines.append(
            f'<Grid Name={quoteattr(organ)} GridType="Collection" CollectionType="Temporal">'
        )
        for _name, snap in snapshots:
            if organ not in snap:
                continue
            lines += [
                f'<Grid Name={quoteattr(organ)} GridType="Uniform">',
                f'<Time Value="{float(snap.attrs["time_min"])!r}"/>',
                f'<Topology TopologyType="3DCoRectMesh" Dimensions="{nz + 1} {ny + 1} {nx + 1}"/>',
                '<Geometry GeometryType="ORIGIN_DXDYDZ">',
                f'<DataItem Format="XML" NumberType="Float" Precision="8" Dimensions="3">'
                f"{oz!r} {oy!r} {ox!r}</DataItem>",
                f'<DataItem Format="XML" NumberType="Float" Precision="8" Dimensions="3">'
                f"{dz!r} {dy!r} {dx!r}</DataItem>",
                "</Geometry>",
                _attribute("labels", labels, file_name, "Cell"),
            ]
            for fname, dataset in snap[f"{organ}/fields"].items():
                lines.append(_attribute(fname, dataset, file_name, "Cell"))
            lines.append("</Grid>")
        lines.append("</Grid>")
        cell_snapshots = [
            (name, snap)
            for name, snap in snapshots
            if organ in snap and int(snap[f"{organ}/cells"].attrs["n"]) > 0
        ]
        if not cell_snapshots:
            continue
        lines.append(
            f'<Grid Name={quoteattr(organ + "_cells")} GridType="Collection" '
            'CollectionType="Temporal">'
        )
        for _name, snap in cell_snapshots:
            cells = snap[f"{organ}/cells"]
            n = int(cells.attrs["n"])
            lines += [
                f'<Grid Name={quoteattr(organ + "_cells")} GridType="Uniform">',
                f'<Time Value="{float(snap.attrs["time_min"])!r}"/>',
                f'<Topology TopologyType="Polyvertex" NumberOfElements="{n}" NodesPerElement="1"/>',
                '<Geometry GeometryType="XYZ">',
                _data_item(cells["position_um"], file_name),
                "</Geometry>",
            ]
            for cname, dataset in cells.items():
                if cname != "position_um":
                    lines.append(_attribute(cname, dataset, file_name, "Node"))
            lines.append("</Grid>")
        lines.append("</Grid>")
    lines += ["</Domain>", "</Xdmf>", ""]
    return "\n".join(line for line in lines if line)


def write_xdmf(handle: h5py.File, path: str | Path) -> None:
    """Write the sidecar of the open run file ``handle`` to ``path`` atomically (a failed
    write leaves the old sidecar and no temporary file).

    Raises:
        OSError: the sidecar could not be written.
    """
    write_text_atomic(path, xdmf_text(handle, Path(handle.filename).name))


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file renamed over it: a failed write
    leaves the old file and no temporary.

    Raises:
        OSError: the file could not be written.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise
