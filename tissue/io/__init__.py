"""Files: run files (time series and snapshots), checkpoints, ParaView/VisIt sidecars, and
PhysiCell's output format (:mod:`tissue.io.multicellds`, read, and written from run files).

All files are HDF5 written through h5py; nothing is pickled, so a file from someone else
cannot run code. Each file names its format and version in root attributes, and readers
refuse foreign, damaged and newer files with one line (an :class:`~tissue.errors.InputError`).
Writers take state records (:class:`~tissue.state.SimulationState`) and the scenario; nothing
here builds or reaches into a simulation.
"""

from tissue.io.checkpoint import (
    CheckpointError,
    StoredCheckpoint,
    read_checkpoint,
    write_checkpoint,
)
from tissue.io.runfile import RunFileError, RunReader, RunWriter

__all__ = [
    "CheckpointError",
    "RunFileError",
    "RunReader",
    "RunWriter",
    "StoredCheckpoint",
    "read_checkpoint",
    "write_checkpoint",
]
