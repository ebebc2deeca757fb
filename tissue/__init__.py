"""tissue: a GPU-accelerated 3-D tissue simulator for cancer metastasis research."""

from importlib.metadata import PackageNotFoundError, version

from tissue.backend import Backend, get_backend, to_numpy
from tissue.config import Scenario, load_scenario
from tissue.io.multicellds import export_physicell
from tissue.io.physicell import import_physicell
from tissue.simulation import Simulation

try:
    __version__ = version("tissue")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "Backend",
    "Scenario",
    "Simulation",
    "__version__",
    "export_physicell",
    "get_backend",
    "import_physicell",
    "load_scenario",
    "to_numpy",
]
