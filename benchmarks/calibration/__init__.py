"""Calibration of the metastasis model: each fit's script, its data table with sources
(``data/``) and its result (``benchmarks/results/calibration-*.json``); the scenario's values
are the results', and tests hold them equal."""
