"""Diffusible fields of one organ: tables from the scenario, sources, reactions, stepping.

One step of a field (length dt):
1. reactions, pointwise, from the state at the start of the step (logistic growth is
   integrated exactly, Hill production by forward Euler);
2. the linear diffusion-decay-source step (backward Euler by ADI passes with Jacobi
   smoothing between them, see :mod:`tissue.kernels.diffusion`) with sources and uptake
   from labels, point sources, cells and exchange with the blood;
3. if the result breaks the step's discrete maximum principle (the passes can amplify
   error where stiff terms vary in space, e.g. vessels at a fixed value in a field with
   dt D / dx^2 in the hundreds), the step is redone as one locally one-dimensional split
   step, which is stable and positive at any dt.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tissue.config import FACES, HillProduction, LabelSource, LogisticReaction, Scenario
from tissue.errors import InputError
from tissue.grid import Grid
from tissue.kernels.diffusion import (
    BARRIER,
    FIXED,
    FREE,
    DiffusionOperator,
    be_residual,
    finish_step,
    thomas_sweep,
)
from tissue.signals import Sensing, parse_signal

JACOBI_OMEGA = np.float32(0.8)  # damping of the Jacobi smoothing steps
GUARDED_PASSES = 8  # most ADI passes refining a split step that replaced a failed step
SPLIT_SMOOTHING_STEPS = 4  # Jacobi steps after such a split step


class FieldSolver:
    """All fields of one organ.

    Attributes:
        values: field name -> (nz, ny, nx) float32 concentrations (backend arrays).
        operators: field name -> its :class:`DiffusionOperator`.
    """

    def __init__(
        self,
        xp: Any,
        scenario: Scenario,
        organ_name: str,
        grid: Grid,
        labels: Any,
        label_codes: dict[str, int],
        barrier_codes: list[int],
    ) -> None:
        self.xp = xp
        self.grid = grid
        self.labels = labels
        self.names = [f for f in scenario.fields if organ_name in scenario.field_organs(f)]
        self.configs = {f: scenario.fields[f] for f in self.names}
        self.operators: dict[str, DiffusionOperator] = {}
        self.values: dict[str, Any] = {}
        self.static_source: dict[str, Any] = {}
        self.static_uptake: dict[str, Any] = {}
        self.label_codes = label_codes
        barrier = np.zeros(256, dtype=bool)
        barrier[barrier_codes] = True
        self.tissue_mask = xp.asarray(~barrier)[labels]  # (nz, ny, nx) bool: not a barrier
        dx, dy, dz = grid.spacing_xyz_um
        self.inv_spacing2_zyx = np.array([1 / dz**2, 1 / dy**2, 1 / dx**2], dtype=np.float32)
        self._source = scenario.source
        for name in self.names:
            self._build(name, organ_name, barrier)
        self._delta = xp.zeros(grid.shape_zyx, dtype=xp.float32)
        self._scratch = xp.zeros(grid.shape_zyx, dtype=xp.float32)
        self._iterate = xp.zeros(grid.shape_zyx, dtype=xp.float32)
        self._trial = xp.zeros(grid.shape_zyx, dtype=xp.float32)
        self._pointwise_step = xp.zeros(grid.shape_zyx, dtype=xp.float32)
        self._masks: dict[tuple[str, ...], Any] = {}

    def __getitem__(self, name: str) -> Any:
        """The (nz, ny, nx) float32 concentration array of field ``name``."""
        return self.values[name]

    def __contains__(self, name: object) -> bool:
        return name in self.values

    def __iter__(self) -> Any:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def _build(self, name: str, organ_name: str, barrier: np.ndarray) -> None:
        xp, cfg = self.xp, self.configs[name]
        diffusivity = np.full(256, cfg.diffusion_um2_per_min, dtype=np.float32)
        for label, value in cfg.diffusion_by_label.items():
            if label in self.label_codes:
                diffusivity[self.label_codes[label]] = value
        kind = np.full(256, FREE, dtype=np.uint8)
        fixed = np.zeros(256, dtype=np.float32)
        rate = np.zeros(256, dtype=np.float32)
        uptake = np.zeros(256, dtype=np.float32)
        for source in cfg.sources:
            if isinstance(source, LabelSource) and source.label in self.label_codes:
                code = self.label_codes[source.label]
                rate[code] += source.rate_per_min
                uptake[code] += source.uptake_per_min
                if source.fixed_value is not None:
                    kind[code] = FIXED
                    fixed[code] = source.fixed_value
        kind[barrier] = BARRIER
        face_value = np.full(6, np.nan, dtype=np.float32)
        if cfg.boundary == "dirichlet":
            for face in cfg.boundary_faces:
                # table order z-, z+, y-, y+, x-, x+; FACES order x-, x+, y-, y+, z-, z+
                index = FACES.index(face)
                face_value[(2 - index // 2) * 2 + index % 2] = cfg.boundary_value
        self.operators[name] = DiffusionOperator(
            labels=self.labels,
            diffusivity=xp.asarray(diffusivity),
            kind=xp.asarray(kind),
            fixed=xp.asarray(fixed),
            face_value=xp.asarray(face_value),
            face_value_host=face_value,
            decay_per_min=cfg.decay_per_min,
            inv_spacing2_zyx=self.inv_spacing2_zyx,
        )
        labels = self.labels
        source = xp.asarray(rate)[labels]
        for index, point in enumerate(cfg.sources):
            if not isinstance(point, LabelSource) and point.organ == organ_name:
                position = xp.asarray([point.position_um], dtype=xp.float32)
                if not bool(self.grid.contains(xp, position)[0]):
                    raise InputError(
                        self._source,
                        f"fields.{name}.sources.{index}.position_um",
                        f"{list(point.position_um)} is outside organ '{organ_name}'",
                    )
                flat = int(self.grid.flat_index(xp, position)[0])
                source.reshape(-1)[flat] += np.float32(point.rate / self.grid.voxel_volume_um3)
        self.static_source[name] = source.astype(xp.float32)
        self.static_uptake[name] = xp.asarray(uptake)[labels]
        value = xp.full(self.grid.shape_zyx, cfg.initial, dtype=xp.float32)
        self.values[name] = value
        finish_step(self.operators[name], value, value)

    def step(
        self,
        dt_min: float,
        cell_source: dict[str, Any] | None = None,
        cell_uptake: dict[str, Any] | None = None,
        sensing: Sensing | None = None,
    ) -> dict[str, float]:
        """Advance every field by ``dt_min``.

        Args:
            cell_source: field -> (nz, ny, nx) float32 units/min added by cells, or absent.
            cell_uptake: field -> (nz, ny, nx) float32 1/min removed by cells, or absent.
            sensing: systemic concentrations and active blocks (reactions with systemic
                activators, exchange with the blood); none: blood at 0, no blocks.

        Returns:
            systemic species -> amount/min this block sent into the blood over the step
            (permeability x (c - c_blood) summed over exchange voxels at the step's start;
            negative when the block takes it up).
        """
        xp = self.xp
        self._react(dt_min, sensing)
        dt = np.float32(dt_min)
        exports: list[tuple[str, Any]] = []  # (species, device sum): one transfer at the end
        for name in self.names:
            op = self.operators[name]
            cfg = self.configs[name]
            source = self.static_source[name]
            uptake = self.static_uptake[name]
            if cell_source and name in cell_source:
                source = source + cell_source[name]
            if cell_uptake and name in cell_uptake:
                uptake = uptake + cell_uptake[name]
            exchange = cfg.blood_exchange
            if exchange is not None:
                blood = sensing.blood(exchange.species) if sensing else 0.0
                k = self._label_mask(tuple(exchange.labels)) * np.float32(
                    exchange.permeability_per_min
                )
                flux = (k * (self.values[name] - np.float32(blood))).astype(xp.float64).sum()
                exports.append((exchange.species, flux))
                source = source + k * np.float32(blood)
                uptake = uptake + k
            c = self.values[name]
            x = self._iterate
            x[...] = c
            self._passes(op, cfg, c, source, uptake, dt, x)
            pointwise = self._pointwise(op, c, source, uptake, dt)
            if cfg.solver_passes == 0:
                self._split_step(op, pointwise, dt, x)
            elif not self._within_bounds(op, x, pointwise):
                # the passes amplified some error (they can where stiff terms vary in
                # space): take the always-stable split step, refined while it stays so
                self._split_step(op, pointwise, dt, x)
                self._guarded_passes(op, cfg, c, source, uptake, dt, x, pointwise)
            finish_step(op, c, x)
        exported: dict[str, float] = {}
        if exports:
            sums = xp.stack([flux for _, flux in exports]).tolist()
            for (species, _), flux in zip(exports, sums, strict=True):
                exported[species] = exported.get(species, 0.0) + flux * self.grid.voxel_volume_um3
        return exported

    def _passes(
        self,
        op: DiffusionOperator,
        cfg: Any,
        c: Any,
        source: Any,
        uptake: Any,
        dt: Any,
        x: Any,
    ) -> None:
        """``solver_passes`` ADI passes from x toward the backward-Euler solution, with
        ``solver_smoothing_steps`` Jacobi steps between consecutive passes. Starting with
        ADI keeps uniform fields uniform; ending with ADI conserves mass in a closed
        lossless domain."""
        delta = self._delta
        for pass_index in range(cfg.solver_passes):
            if pass_index:
                for _ in range(cfg.solver_smoothing_steps):
                    be_residual(op, x, c, source, uptake, dt, delta, True)
                    x += JACOBI_OMEGA * delta
            x += self._adi_correction(op, x, c, source, uptake, dt)

    def _adi_correction(
        self, op: DiffusionOperator, x: Any, c: Any, source: Any, uptake: Any, dt: Any
    ) -> Any:
        """One Douglas ADI correction of iterate x: the scaled backward-Euler defect, then
        a Thomas sweep per axis (returned in the solver's delta buffer)."""
        delta = self._delta
        be_residual(op, x, c, source, uptake, dt, delta, False)
        for axis in (0, 1, 2):
            thomas_sweep(op, delta, dt, axis, self._scratch)
        return delta

    def _guarded_passes(
        self,
        op: DiffusionOperator,
        cfg: Any,
        c: Any,
        source: Any,
        uptake: Any,
        dt: Any,
        x: Any,
        pointwise: Any,
    ) -> None:
        """Jacobi steps, then up to GUARDED_PASSES ADI passes, from the split step. A damped
        Jacobi step averages each voxel's pointwise value with its neighbours, so it keeps
        the maximum principle's bounds; an ADI pass is kept only while it does too."""
        delta, trial = self._delta, self._trial
        for _ in range(SPLIT_SMOOTHING_STEPS):
            be_residual(op, x, c, source, uptake, dt, delta, True)
            x += JACOBI_OMEGA * delta
        for _ in range(GUARDED_PASSES):
            trial[...] = x
            trial += self._adi_correction(op, x, c, source, uptake, dt)
            if not self._within_bounds(op, trial, pointwise):
                return
            x[...] = trial

    def _pointwise(self, op: DiffusionOperator, c: Any, source: Any, uptake: Any, dt: Any) -> Any:
        """(c + dt S) / (1 + dt (decay + uptake)): the step without diffusion, with the fixed
        values, barriers at 0 and no negatives (in the solver's buffer for it; the trial
        buffer holds the denominator meanwhile)."""
        xp = self.xp
        out, denominator = self._pointwise_step, self._trial
        xp.add(np.float32(op.decay_per_min), uptake, out=denominator)
        xp.multiply(dt, denominator, out=denominator)
        xp.add(np.float32(1), denominator, out=denominator)
        xp.multiply(dt, source, out=out)
        xp.add(c, out, out=out)
        xp.divide(out, denominator, out=out)
        finish_step(op, out, out)
        return out

    def _within_bounds(self, op: DiffusionOperator, x: Any, pointwise: Any) -> bool:
        """Whether x keeps the discrete maximum principle of the backward-Euler step: every
        value between the least and largest of ``pointwise`` (at the largest the diffusion
        term is <= 0, so the exact solution lies there), with a relative slack of 1e-3.
        Barrier voxels are left out by masking, not indexing, so that the four extremes
        come back to the host in one transfer."""
        xp = self.xp
        cls, _ = op.classes()
        solved = cls != BARRIER
        inf = np.float32(np.inf)
        low, high, x_low, x_high = (
            xp.stack(
                [
                    xp.where(solved, pointwise, inf).min(),
                    xp.where(solved, pointwise, -inf).max(),
                    xp.where(solved, x, inf).min(),
                    xp.where(solved, x, -inf).max(),
                ]
            )
            .astype(xp.float64)
            .tolist()
        )
        if low > high:  # no voxel is solved
            return True
        slack = 1e-3 * max(abs(high), abs(low), 1e-30)
        return x_high <= high + slack and x_low >= low - slack

    def _split_step(self, op: DiffusionOperator, pointwise: Any, dt: Any, x: Any) -> None:
        """x = one locally one-dimensional (LOD) backward-Euler step: the pointwise terms
        implicitly (``pointwise``), then implicit 1-D diffusion solves over half the step
        along z, y, x and back along x, y, z (the symmetric order halves the error of one
        sweep per axis and has no preferred axis). Each part keeps values within the bounds
        of :meth:`_within_bounds` and the fixed values, so the step is stable and positive at
        any dt (with a splitting error that grows with dt D / dx^2)."""
        x[...] = pointwise
        half = np.float32(dt / 2)
        for axis in (0, 1, 2, 2, 1, 0):
            thomas_sweep(op, x, half, axis, self._scratch)

    def _activator(self, name: str, sensing: Sensing | None) -> Any:
        """What a reaction sees of ``name``: this organ's field or a systemic
        concentration, scaled by active blocks; 0 when the organ lacks the field."""
        if parse_signal(name).kind == "blood":
            return np.float32(sensing.signal_value(name) if sensing else 0.0)
        if name not in self.values:
            return np.float32(0.0)
        factor = 1.0 if sensing is None else sensing.factor(name)
        return self.values[name] * np.float32(factor) if factor != 1.0 else self.values[name]

    def _react(self, dt_min: float, sensing: Sensing | None) -> None:
        xp = self.xp
        increments: dict[str, Any] = {}
        for name in self.names:
            for reaction in self.configs[name].reactions:
                if isinstance(reaction, HillProduction):
                    a = self._activator(reaction.activator, sensing)
                    n = np.float32(reaction.hill_coefficient)
                    an = a**n
                    rate = (
                        np.float32(reaction.rate_per_min)
                        * an
                        / (np.float32(reaction.half_max) ** n + an)
                    )
                    if reaction.labels is not None:
                        rate = rate * self._label_mask(tuple(reaction.labels))
                    increments[name] = increments.get(name, 0) + np.float32(dt_min) * rate
        for name in self.names:
            c = self.values[name]
            if name in increments:
                c += increments[name].astype(xp.float32)
            for reaction in self.configs[name].reactions:
                if isinstance(reaction, LogisticReaction):
                    growth = np.float32(math.expm1(reaction.rate_per_min * dt_min))
                    capacity = np.float32(reaction.capacity)
                    c[...] = c * (growth + np.float32(1)) / (np.float32(1) + c * growth / capacity)
            if self.configs[name].reactions:
                finish_step(self.operators[name], c, c)

    def _label_mask(self, names: tuple[str, ...]) -> Any:
        """(nz, ny, nx) float32: 1 in voxels of the named labels, else 0 (computed once)."""
        if names not in self._masks:
            table = np.zeros(256, dtype=np.float32)
            table[[self.label_codes[x] for x in names if x in self.label_codes]] = 1
            self._masks[names] = self.xp.asarray(table)[self.labels]
        return self._masks[names]

    def sample(self, name: str, flat_voxel: Any) -> Any:
        """Field values (N,) float32 at flat voxel indices."""
        return self.values[name].reshape(-1)[flat_voxel]

    def gradient(self, name: str, ijk: Any) -> Any:
        """Gradient (N, 3) float32 (x, y, z) in units/um at voxels ``ijk`` (N, 3) (ix, iy, iz).

        Central differences, one-sided next to barriers and the grid's edge, 0 where the
        voxel has no tissue neighbour along an axis.
        """
        xp = self.xp
        c = self.values[name]
        mask = self.tissue_mask
        nz, ny, nx = self.grid.shape_zyx
        upper = (nx, ny, nz)
        out = xp.zeros((ijk.shape[0], 3), dtype=xp.float32)
        ix, iy, iz = ijk[:, 0], ijk[:, 1], ijk[:, 2]
        centre = c[iz, iy, ix]
        for axis in range(3):
            step = [0, 0, 0]
            step[axis] = 1
            lo_ok = ijk[:, axis] > 0
            hi_ok = ijk[:, axis] < upper[axis] - 1
            lo = [xp.where(lo_ok, ijk[:, a] - step[a], ijk[:, a]) for a in range(3)]
            hi = [xp.where(hi_ok, ijk[:, a] + step[a], ijk[:, a]) for a in range(3)]
            lo_ok &= mask[lo[2], lo[1], lo[0]]
            hi_ok &= mask[hi[2], hi[1], hi[0]]
            c_lo = xp.where(lo_ok, c[lo[2], lo[1], lo[0]], centre)
            c_hi = xp.where(hi_ok, c[hi[2], hi[1], hi[0]], centre)
            span = (lo_ok.astype(xp.float32) + hi_ok.astype(xp.float32)) * np.float32(
                self.grid.spacing_xyz_um[axis]
            )
            out[:, axis] = xp.where(span > 0, (c_hi - c_lo) / xp.maximum(span, 1e-30), 0)
        return out

    def summary(self, name: str) -> dict[str, float]:
        """Mean, min and max over tissue (non-barrier) voxels."""
        xp = self.xp
        c = self.values[name]
        tissue = self.tissue_mask
        n = int(tissue.sum())
        if n == 0:
            return {"mean": 0.0, "min": 0.0, "max": 0.0}
        values = c[tissue]
        return {
            "mean": float(values.astype(xp.float64).mean()),
            "min": float(values.min()),
            "max": float(values.max()),
        }
