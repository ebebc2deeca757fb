"""Diffusible fields of one organ: tables from the scenario, sources, reactions, stepping.

One step of the organ's fields (length dt), all fields in one batched solve:

1. each field's source S and uptake U at the step's start: labels, point sources, cells,
   exchange with the blood (permeability x (blood - c)), and its reactions linearised at
   the start of the step (lagged: production as a source; logistic growth r c (1 - c / K)
   as the source g c and the uptake g c / K, g = (e^{r dt} - 1) / dt, which is exact for a
   uniform field and keeps the step positive and bounded by K);
2. the backward-Euler step [(1 + dt (decay + U)) - dt div(D grad)] c_new = c_old + dt S,
   with fixed voxels as boundary values and no flux into barriers or out of no-flux faces
   (a 2-D organ's z faces are no-flux whatever its boundary, as PhysiCell's 2-D domains),
   solved for the change c_new - c_old from the step's defect in flux form (differences of
   neighbouring values, accurate in float32 however large dt D / dx^2 is), to each field's
   ``solver_tolerance`` (see :mod:`tissue.solver`);
3. the result written into the field (:func:`~tissue.kernels.diffusion.finish_step`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tissue.backend import to_numpy
from tissue.config import FACES, Z_FACES, HillProduction, LabelSource, LogisticReaction, Scenario
from tissue.errors import InputError
from tissue.grid import Grid
from tissue.kernels.diffusion import (
    BARRIER,
    FIXED,
    FREE,
    DiffusionOperator,
    finish_step,
    gradients,
)
from tissue.kernels.multigrid import defect
from tissue.signals import Sensing, parse_signal
from tissue.solver import Hierarchy, SolveReport, solve


@dataclass(frozen=True)
class SolverStats:
    """One field's solves since the organ was built: steps, CG iterations in all and at
    most, and steps that stopped at the iteration cap before reaching the tolerance."""

    steps: int = 0
    iterations: int = 0
    most_iterations: int = 0
    unconverged: int = 0


class FieldSolver:
    """All fields of one organ.

    Attributes:
        values: field name -> (nz, ny, nx) float32 concentrations (backend arrays; views of
            one (F, nz, ny, nx) array, in ``names`` order).
        operators: field name -> its :class:`DiffusionOperator`.
        report: what the last step's solve did (None before the first step).
        stats: field name -> its :class:`SolverStats` over every step so far.
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
        self._stack = xp.zeros((len(self.names), *grid.shape_zyx), dtype=xp.float32)
        for index, name in enumerate(self.names):
            self.values[name] = self._stack[index]
            self._build(name, organ_name, barrier)
        self._masks: dict[tuple[str, ...], Any] = {}
        self.report: SolveReport | None = None
        n_fields = len(self.names)
        self._steps = 0  # solver totals per field, kept on the backend (read by ``stats``)
        self._iterations = xp.zeros(n_fields, dtype=xp.int64)
        self._most_iterations = xp.zeros(n_fields, dtype=xp.int64)
        self._unconverged = xp.zeros(n_fields, dtype=xp.int64)
        self._first_read = 0  # see step()
        self._hierarchy = Hierarchy([self.operators[f] for f in self.names]) if self.names else None
        self._tolerance = np.array([self.configs[f].solver_tolerance for f in self.names])
        self._max_iterations = max(
            (self.configs[f].solver_max_iterations for f in self.names), default=1
        )
        self._decay = xp.asarray(
            [self.configs[f].decay_per_min for f in self.names], dtype=xp.float32
        ).reshape(-1, 1, 1, 1)

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
                if self.grid.two_d and face in Z_FACES:
                    continue  # a 2-D organ has no flux through its z faces (as PhysiCell)
                # table order z-, z+, y-, y+, x-, x+; FACES order x-, x+, y-, y+, z-, z+
                index = FACES.index(face)
                value = cfg.boundary_values.get(face, cfg.boundary_value)
                face_value[(2 - index // 2) * 2 + index % 2] = value
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
        value = self.values[name]
        value.fill(np.float32(cfg.initial))
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
            cell_source: field -> (nz, ny, nx) float32 units/min added by cells (a full
                array or the sparse :class:`~tissue.rules.CellDeposit`), or absent.
            cell_uptake: field -> (nz, ny, nx) float32 1/min removed by cells, likewise.
            sensing: systemic concentrations and active blocks (reactions with systemic
                activators, exchange with the blood); none: blood at 0, no blocks.

        Returns:
            systemic species -> amount/min this block sent into the blood over the step
            (permeability x (c - c_blood) summed over exchange voxels at the step's start;
            negative when the block takes it up), a 0-d float64 array on the backend.
        """
        if self._hierarchy is None:
            return {}
        xp = self.xp
        dt = np.float32(dt_min)
        source, loss, exports = self.linear_terms(dt, cell_source, cell_uptake, sensing)
        hierarchy = self._hierarchy
        hierarchy.set_step(dt, np.float32(1) + dt * loss)
        rhs = self._defect(dt, source, loss)
        change = xp.zeros_like(source)
        report = solve(
            hierarchy, change, rhs, self._stack, dt, self._tolerance, self._max_iterations,
            self._first_read,
        )  # fmt: skip
        self.report = report
        if xp is not np:  # next step: the first read where this one had converged (NumPy: each)
            self._first_read = report.last_iteration
        self._steps += 1
        self._iterations += report.counts
        self._most_iterations = xp.maximum(self._most_iterations, report.counts)
        self._unconverged += ~report.met
        solution = self._stack + change
        for index, name in enumerate(self.names):
            finish_step(self.operators[name], self.values[name], solution[index])
        exported: dict[str, Any] = {}  # 0-d float64 on the backend: no host round trip
        for species, flux in exports:
            exported[species] = exported.get(species, 0.0) + flux * self.grid.voxel_volume_um3
        return exported

    @property
    def stats(self) -> dict[str, SolverStats]:
        """Field name -> its :class:`SolverStats` over every step so far (read from the
        backend)."""
        totals = [to_numpy(a) for a in (self._iterations, self._most_iterations,
                                        self._unconverged)]  # fmt: skip
        return {
            name: SolverStats(self._steps, *(int(a[index]) for a in totals))
            for index, name in enumerate(self.names)
        }

    def defect(
        self,
        dt_min: float,
        cell_source: dict[str, Any] | None = None,
        cell_uptake: dict[str, Any] | None = None,
        sensing: Sensing | None = None,
    ) -> Any:
        """(F, nz, ny, nx) float32: the residual of a step of ``dt_min`` at the fields as
        they are, dt ((flux + S) - (decay + U) c) at free voxels (0 at a steady state)."""
        dt = np.float32(dt_min)
        source, loss, _ = self.linear_terms(dt, cell_source, cell_uptake, sensing)
        return self._defect(dt, source, loss)

    def _defect(self, dt: np.float32, source: Any, loss: Any) -> Any:
        assert self._hierarchy is not None
        out = self.xp.empty_like(source)
        free = self._hierarchy.levels[0].free
        defect(self._hierarchy.conductances, free, self._stack, source, loss, dt, out)
        return out

    def linear_terms(
        self,
        dt: np.float32,
        cell_source: dict[str, Any] | None = None,
        cell_uptake: dict[str, Any] | None = None,
        sensing: Sensing | None = None,
    ) -> tuple[Any, Any, list[tuple[str, Any]]]:
        """The source S (units/min) and loss decay + U (1/min) of a step of ``dt``, (F, nz,
        ny, nx) float32 in ``names`` order, from the fields as they are (see the module
        docstring), and each blood exchange's (species, device sum of permeability x
        (c - blood))."""
        xp = self.xp
        source = xp.stack([self.static_source[f] for f in self.names])
        uptake = xp.stack([self.static_uptake[f] for f in self.names])
        self._react(source, uptake, dt, sensing)
        exports: list[tuple[str, Any]] = []  # (species, 0-d float64 sum on the backend)
        for index, name in enumerate(self.names):
            for cells, terms in ((cell_source, source), (cell_uptake, uptake)):
                if cells and name in cells:
                    _add_cells(terms[index], cells[name])
            exchange = self.configs[name].blood_exchange
            if exchange is not None:
                blood = xp.asarray(sensing.blood(exchange.species) if sensing else 0.0)
                blood = blood.astype(xp.float32)
                k = self._label_mask(tuple(exchange.labels)) * np.float32(
                    exchange.permeability_per_min
                )
                flux = (k * (self.values[name] - blood)).astype(xp.float64).sum()
                exports.append((exchange.species, flux))
                source[index] += k * blood
                uptake[index] += k
        return source, self._decay + uptake, exports

    def _activator(self, name: str, sensing: Sensing | None) -> Any:
        """What a reaction sees of ``name``: this organ's field or a systemic
        concentration, scaled by active blocks; 0 when the organ lacks the field."""
        if parse_signal(name).kind == "blood":
            return self.xp.asarray(sensing.signal_value(name) if sensing else 0.0).astype(
                self.xp.float32
            )
        if name not in self.values:
            return np.float32(0.0)
        factor = 1.0 if sensing is None else sensing.factor(name)
        return self.values[name] * np.float32(factor) if factor != 1.0 else self.values[name]

    def _react(self, source: Any, uptake: Any, dt: np.float32, sensing: Sensing | None) -> None:
        """Add each field's reactions, linearised at the step's start (lagged), to ``source``
        and ``uptake`` ((F, nz, ny, nx) float32): Hill production as a source; logistic growth
        as the source g c and the uptake g c / K with g = (e^{r dt} - 1) / dt, which makes the
        step of a uniform field the exact logistic solution (and keeps it in [0, K])."""
        for index, name in enumerate(self.names):
            c = self.values[name]
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
                    source[index] += rate
                elif isinstance(reaction, LogisticReaction):
                    g = np.float32(math.expm1(reaction.rate_per_min * float(dt)) / float(dt))
                    source[index] += g * c
                    uptake[index] += g * c / np.float32(reaction.capacity)

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
        return self.gradients([name], ijk)[0]

    def gradients(self, names: list[str], ijk: Any) -> Any:
        """Gradients (K, N, 3) float32 of fields ``names`` at voxels ``ijk``, as
        :meth:`gradient` computes each (one kernel for all of them on a device)."""
        fields = [self.names.index(name) for name in names]
        return gradients(self._stack, fields, self.tissue_mask, ijk, self.grid.spacing_xyz_um)

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


def _add_cells(out: Any, cells: Any) -> None:
    """``out`` += the cells' term: a sparse deposit (with ``add_to``, added where cells
    are) or a full (nz, ny, nx) array."""
    if hasattr(cells, "add_to"):
        cells.add_to(out)
    else:
        out += cells
