"""PhysiCell side by side: its cancer-immune sample and tissue's ``cancer_immune`` scenario at
one reduced size, run for several seeds each, compared output by output (see README.md)."""
