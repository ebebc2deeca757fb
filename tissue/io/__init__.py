"""Files: run files (time series and snapshots), checkpoints, and ParaView/VisIt sidecars.

All files are HDF5 written through h5py; nothing is pickled, so a file from someone else
cannot run code. Each file names its format and version in root attributes, and readers
refuse foreign, damaged and newer files with one line (an :class:`~tissue.errors.InputError`).
"""

from tissue.io.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from tissue.io.runfile import RunReader, RunWriter

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "RunReader",
    "RunWriter",
    "load_checkpoint",
    "save_checkpoint",
]
