"""Benchmarks of tissue's hot paths: fixed cases, warm-up, device-event timing, JSON results.

Run ``python -m benchmarks.bench_diffusion --backend cpu|gpu`` and
``python -m benchmarks.bench_cells --backend cpu|gpu``; ``python -m benchmarks.common --table``
prints the committed results in ``benchmarks/results/`` as markdown. See README.md here.
"""
