"""Chemotaxis: each cell's bias direction from the gradients of the fields it senses, as
PhysiCell's chemotaxis and advanced chemotaxis compute it (the direction that
:func:`tissue.rules.update_motility` mixes with a random one by the migration bias).

With signed sensitivities s_i to fields i (a negative one: down that gradient) and g_i the
gradient at the cell's voxel,

    d = normalise(sum_i s_i g_i), or normalise(sum_i s_i g_i / |g_i|)

for a type that normalises each gradient (PhysiCell's normalize_each_gradient); a zero
vector normalises to zero, as PhysiCell's ``normalize`` leaves it. A blocking intervention on
field i (factor f_i = 1 - efficacy) scales its term (the cell senses f_i g_i) and the bias by
sum_i |s_i| f_i / sum_i |s_i|, so that one field alone guides as b f_i. Rules on
``chemotaxis.<field>`` set a cell's s_i each phenotype step (PhysiCell's "chemotactic
response to").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tissue.behaviours import Behave
from tissue.grid import F32
from tissue.kernels.cells import unit_rows
from tissue.organ import Organ
from tissue.signals import CHEMOTAXIS_COLUMN
from tissue.tables import Chemotaxis


def bias_direction(
    organ: Organ, chemotaxis: Chemotaxis, block_factor: Callable[[str], float] | None = None
) -> tuple[Any, Any, Any]:
    """Each cell's bias direction d ((N, 3) float32, see the module docstring) over the
    fields of ``chemotaxis`` in this organ, with (N,) bool: its type senses one of them
    here (d applies to it), and (N,) float32: the blocks' weight on its bias,
    sum |s_i| f_i / sum |s_i| (1 where all s_i are 0), f_i = ``block_factor(field)``
    (default 1)."""
    xp, cells = organ.xp, organ.cells
    t = cells.type
    sensitivity = chemotaxis_sensitivity(organ, chemotaxis)
    each = chemotaxis.normalize_each[t][:, None]
    present = [(k, f) for k, f in enumerate(chemotaxis.fields) if f in organ.fields.values]
    factor = [F32(1.0 if block_factor is None else block_factor(f)) for _, f in present]
    senses = xp.zeros(cells.n, dtype=bool)
    blocked = xp.zeros(cells.n, dtype=xp.float32)  # sum |s| f
    total = xp.zeros(cells.n, dtype=xp.float32)  # sum |s|
    for (k, _), f in zip(present, factor, strict=True):
        senses |= chemotaxis.senses[t, k]
        blocked += xp.abs(sensitivity[:, k]) * f
        total += xp.abs(sensitivity[:, k])
    ijk = organ.grid.voxel_ijk(xp, cells.position_um)
    # the terms' weights s f over sum |s| f: the direction is that of sum s f g, and one
    # field alone weighs exactly +-1 (its gradient as it is, bit for bit)
    spread = xp.maximum(blocked, F32(1e-30))
    summed = xp.zeros((cells.n, 3), dtype=xp.float32)
    grads = organ.fields.gradients([field for _, field in present], ijk)
    for (k, _), f, grad in zip(present, factor, grads, strict=True):
        grad = xp.where(each, unit_rows(grad), grad)
        term = xp.where(blocked > 0, sensitivity[:, k] * f / spread, F32(0))
        summed = summed + term[:, None] * grad
    weight = xp.where(total > 0, blocked / xp.maximum(total, F32(1e-30)), F32(1))
    return unit_rows(summed), senses, weight


def chemotaxis_sensitivity(organ: Organ, chemotaxis: Chemotaxis) -> Any:
    """(N, K) float32: each cell's sensitivities to the K ``chemotaxis.fields``: as the
    rules last set them (:func:`update_sensitivities`), else its type's."""
    cells = organ.cells
    base = chemotaxis.sensitivity[cells.type]
    if CHEMOTAXIS_COLUMN not in cells.columns:
        return base
    value = getattr(cells, CHEMOTAXIS_COLUMN)
    return organ.xp.where(organ.xp.isnan(value), base, value)


def update_sensitivities(organ: Organ, chemotaxis: Chemotaxis, behave: Behave) -> None:
    """Set each cell's sensitivities where rules or attributes move them
    (``chemotaxis.<field>``; once a phenotype step like the migration behaviours, read by
    the mechanics steps until the next)."""
    cells = organ.cells
    if CHEMOTAXIS_COLUMN not in cells.columns:
        return
    base = chemotaxis.sensitivity[cells.type]
    column = getattr(cells, CHEMOTAXIS_COLUMN)
    for k, field in enumerate(chemotaxis.fields):
        column[:, k] = behave(f"chemotaxis.{field}", base[:, k])
