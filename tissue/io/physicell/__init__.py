"""PhysiCell models in: a PhysiCell project (settings XML, rules CSV, initial cells CSV) as
a tissue scenario (``tissue import-physicell``; :func:`import_physicell`). PhysiCell's output
format is :mod:`tissue.io.multicellds`."""

from tissue.io.physicell.project import Imported, import_physicell
from tissue.io.physicell.report import Finding, UnsupportedModel

__all__ = ["Finding", "Imported", "UnsupportedModel", "import_physicell"]
