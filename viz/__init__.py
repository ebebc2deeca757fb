"""Views of tissue run files (PyVista volume renders, matplotlib dashboards).

This package imports :mod:`tissue`, never the reverse, and needs the ``viz`` extra
(``pip install 'tissue[viz]'``). Its renderers read the HDF5 run files that ``tissue run``
writes; both arrive with the run-file and pictures work described in the README.
"""
