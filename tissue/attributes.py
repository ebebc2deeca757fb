"""Per-cell attributes (PhysiCell's custom data): values each cell carries in a float32 column
of its organ's cell store, drawn when the cell is made and inherited at division.

A scenario declares them per cell type (``[cell_types.T.attributes.NAME]``, see
:class:`~tissue.config.cells.Attribute`). Every organ's store has one column per attribute
name; a cell of a type that does not declare it holds NaN. Draws come from the run's keyed
stream (:attr:`~tissue.rng.Purpose.ATTRIBUTE`, keyed by the cell's id; block = the
attribute's place in :attr:`Attributes.names`; step 0 for a new cell, 1 for a daughter's
mutation), so every backend draws the same values.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tissue.cells import BASE_COLUMNS, CellStore, Column
from tissue.config import Scenario
from tissue.config.cells import Attribute
from tissue.errors import InputError
from tissue.rng import CellRandom, Purpose

F32 = np.float32
NEW, MUTATION = 0, 1  # the draws' steps


def normal_from(xp: Any, u1: Any, u2: Any) -> Any:
    """Standard normal float32 draws from two (N,) uniforms in (0, 1) (Box-Muller)."""
    return xp.sqrt(F32(-2) * xp.log(u1)) * xp.cos(F32(2 * math.pi) * u2)


class Attributes:
    """The scenario's per-cell attributes: name -> type index -> :class:`Attribute`.

    Args:
        scenario: the validated scenario.
    """

    def __init__(self, scenario: Scenario) -> None:
        self.specs: dict[str, dict[int, Attribute]] = {}
        for t, (tname, ctype) in enumerate(scenario.cell_types.items()):
            for name, spec in ctype.attributes.items():
                if name in BASE_COLUMNS:
                    raise InputError(
                        scenario.source,
                        f"cell_types.{tname}.attributes.{name}",
                        f"'{name}' is a built-in cell column; choose another name",
                    )
                self.specs.setdefault(name, {})[t] = spec
        self.names = sorted(self.specs)

    def columns(self) -> dict[str, Column]:
        """The cell-store columns of the attributes (float32, NaN for cells without)."""
        return {name: Column(np.float32, (), math.nan) for name in self.names}

    def draw(
        self, cells: CellStore, new: Any, random: CellRandom, only: dict[str, Any] | None = None
    ) -> None:
        """Give the cells where ``new`` ((n,) bool; just added) their types' initial values
        (of each attribute, where ``only[name]`` ((n,) bool) too, if given). Every row is
        drawn and the new ones take the result (no host round trip)."""
        if not self.names:
            return
        xp = cells.xp
        ids, types = cells.id, cells.type
        for block, name in enumerate(self.names):
            u = random.uniform(ids, NEW, Purpose.ATTRIBUTE, block)
            column = getattr(cells, name)
            value = column
            take = new if only is None else new & only[name]
            for t, spec in self.specs[name].items():
                drawn = _clip(xp, _sample(xp, spec, u), spec)
                value = xp.where(take & (types == t), drawn, value)
            column[...] = value

    def mutate(self, cells: CellStore, daughters: Any, random: CellRandom) -> None:
        """Add each attribute's ``mutation_sd`` normal spread to the ``daughters`` ((n,)
        bool; they hold their parents' values), then clip. Every row is drawn and the
        daughters take the result (no host round trip)."""
        names = [n for n in self.names if any(s.mutation_sd > 0 for s in self.specs[n].values())]
        if not names:
            return
        xp = cells.xp
        ids, types = cells.id, cells.type
        for name in names:
            block = self.names.index(name)
            u = random.uniform(ids, MUTATION, Purpose.ATTRIBUTE, block)
            z = normal_from(xp, u[:, 0], u[:, 1])
            column = getattr(cells, name)
            value = column
            for t, spec in self.specs[name].items():
                if spec.mutation_sd > 0:
                    moved = _clip(xp, value + F32(spec.mutation_sd) * z, spec)
                    value = xp.where(daughters & (types == t), moved, value)
            column[...] = value

    def halve(self, cells: CellStore, dividing: Any) -> None:
        """Halve the conserved attributes of the ``dividing`` ((n,) bool) cells, before
        they divide (each of the two keeps half; PhysiCell's ``divide``)."""
        xp = cells.xp
        for name, conserving in self._conserving(cells).items():
            column = getattr(cells, name)
            column[...] = xp.where(dividing & conserving, F32(0.5) * column, column)

    def gain(self, cells: CellStore, eater: Any, row: Any) -> None:
        """Each cell where ``eater`` ((n,) bool) adds the conserved attributes of the cell
        at its ``row`` ((n,) int) that it eats (PhysiCell's ``ingest_cell``)."""
        xp = cells.xp
        for name, conserving in self._conserving(cells).items():
            column = getattr(cells, name)
            eaten = column[row]
            gained = eater & conserving & ~xp.isnan(eaten)
            column[...] = xp.where(gained, column + eaten, column)

    def convert(self, cells: CellStore, changed: Any, random: CellRandom) -> None:
        """Cells where ``changed`` ((n,) bool) have taken a new type: each attribute is
        kept where the new type conserves it, drawn as for a new cell of that type where it
        declares it otherwise, and NaN where it does not (PhysiCell's conversion to a
        definition resets custom data that is not conserved)."""
        if not self.names:
            return
        for name, value in self.reset(cells, changed, cells.type).items():
            getattr(cells, name)[...] = value
        self.draw(cells, changed, random, only=self.unset(cells))

    def reset(self, cells: CellStore, changing: Any, new_type: Any) -> dict[str, Any]:
        """Attribute -> (n,) float32: each cell's value, NaN where ``changing`` ((n,) bool)
        and ``new_type`` ((n,) int16) does not conserve it: values for a daughter that
        takes another type, to be drawn for it (:meth:`unset`) once it exists."""
        xp = cells.xp
        kept = self._conserving(cells, new_type)
        out = {}
        for name in self.names:
            fresh = changing & ~kept[name] if name in kept else changing
            out[name] = xp.where(fresh, F32(math.nan), getattr(cells, name))
        return out

    def unset(self, cells: CellStore) -> dict[str, Any]:
        """Attribute -> (n,) bool: the cells whose value is NaN (to draw, where their type
        declares it)."""
        return {name: cells.xp.isnan(getattr(cells, name)) for name in self.names}

    def _conserving(self, cells: CellStore, types: Any = None) -> dict[str, Any]:
        """Attribute name -> (n,) bool: the cells whose type (or ``types``, (n,) int16)
        conserves it (names that no type conserves are left out)."""
        xp = cells.xp
        of = cells.type if types is None else types
        out = {}
        for name in self.names:
            codes = [t for t, spec in self.specs[name].items() if spec.conserved]
            if codes:
                out[name] = xp.isin(of, xp.asarray(codes, dtype=cells.type.dtype))
        return out


def _sample(xp: Any, spec: Attribute, u: Any) -> Any:
    """(N,) float32 values of ``spec``'s distribution from (N, 4) uniforms."""
    if spec.distribution == "constant":
        return xp.full(u.shape[0], spec.value, dtype=xp.float32)
    if spec.distribution == "uniform":
        low, high = F32(spec.low), F32(spec.high)
        return low + (high - low) * u[:, 2]
    z = normal_from(xp, u[:, 0], u[:, 1])
    mean, sd = float(spec.mean), float(spec.sd)  # type: ignore[arg-type]
    if spec.distribution == "normal":
        return F32(mean) + F32(sd) * z
    sigma2 = math.log1p((sd / mean) ** 2)  # lognormal with this mean and sd
    return xp.exp(F32(math.log(mean) - sigma2 / 2) + F32(math.sqrt(sigma2)) * z)


def _clip(xp: Any, value: Any, spec: Attribute) -> Any:
    if spec.min is not None:
        value = xp.maximum(value, F32(spec.min))
    if spec.max is not None:
        value = xp.minimum(value, F32(spec.max))
    return value.astype(xp.float32)
