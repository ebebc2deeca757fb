"""The body around the organs: blood, recruitment from it, interventions and the ledger.

A :class:`Body` is built from the scenario, the organs, the cell types, the run's generator
and the schedule; it acts on the organs it was given and holds no link to the simulation.

The blood is a well-mixed compartment stepped on the host: systemic factor concentrations
(float64, exchanged with organ fields at vessel voxels, cleared from plasma) and a count of
circulating tumour cells (CTCs, whole-body). Its random draws come from the generator's host
stream keyed by (seed, tick, purpose), so CPU and GPU runs make the same blood.

Each block stands for part of its organ: what it sends into the blood is multiplied by
:meth:`Body.stands_for` (1 / ``whole_organ_fraction``, or for a primary with a growth law the
whole tumour's cells over the block's).

Each tick, before any process: interventions due at this tick act (resection, depletion,
injection). In each diffusion step: fields exchange with the blood, then the blood
concentrations take the organs' net export (times what each block stands for) and
clearance. In each phenotype step, after the organs' cell rules: cells intravasate (the
block's cells leave it; the whole organ sheds a Poisson number of CTCs with the mean its
block gives), CTCs die or arrest (and arrive in the organ block), and recruitment brings
new cells in at vessel voxels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from tissue.backend import to_numpy
from tissue.cells import LIVE
from tissue.config import AddCells, BlockSignal, Depletion, Injection, Resection, Scenario
from tissue.grid import F32
from tissue.organ import CellTypes, Organ
from tissue.placement import place_cells
from tissue.rng import CellRandom, Purpose
from tissue.schedule import Schedule
from tissue.signals import hill_sum, parse_signal
from tissue.state import SimulationState

LEDGER_COUNTERS = (
    "shed",
    "injected",
    "died_in_blood",
    "lodged_elsewhere",
    "arrested",
    "extravasated",
)
PLACEMENT_STREAMS = 1 << 16  # placement streams of initial cells; each add-intervention's follow
LEDGER_PARTITION = (
    "in_blood",
    "died_in_blood",
    "lodged_elsewhere",
    "in_vessel",
    "died_in_organ",
    "solitary",
    "micrometastases",
    "macrometastases",
)  # where each cell that entered the blood is now: they sum to shed + injected


class Body:
    """Blood, recruitment, interventions and the cascade ledger of one simulation.

    Attributes:
        blood_values: systemic species -> concentration (field units; a 0-d float64 array
            on the organs' backend, so that the blood exchange needs no host round trip).
        ctc: circulating tumour cells now (whole-body count).
        counters: cumulative ledger counts (see ``LEDGER_COUNTERS``).
    """

    def __init__(
        self,
        scenario: Scenario,
        organs: Mapping[str, Organ],
        types: CellTypes,
        random: CellRandom,
        schedule: Schedule,
    ) -> None:
        self.scenario = scenario
        self.organs = organs
        self.types = types
        self.random = random
        self.config = scenario.circulation
        species = self.config.species if self.config else {}
        self.xp = next(iter(organs.values())).xp if organs else np
        self.blood_values = {
            name: self.xp.asarray(float(s.initial), dtype=self.xp.float64)
            for name, s in species.items()
        }
        self.ctc = 0
        self.counters = dict.fromkeys(LEDGER_COUNTERS, 0)
        self._extravasated = self.xp.zeros((), dtype=self.xp.int64)  # since the last read
        self.tick = 0
        self._base_min = schedule.base_min
        self._start = {
            name: schedule.event_tick(action.start_day)
            for name, action in scenario.interventions.items()
        }
        self._end = {
            name: schedule.event_tick(getattr(action, "end_day", None))
            for name, action in scenario.interventions.items()
        }
        self._voxels: dict[tuple[str, str], Any] = {}
        self._growth_codes = {
            name: self.xp.asarray(types.index(config.growth.cell_types))
            for name, config in scenario.organs.items()
            if config.growth is not None and name in organs
        }
        self._near: dict[tuple[str, str, float], Any] = {}
        arrest_type = self.config.arrest_type if self.config else None
        self._arrest = -1 if arrest_type is None else types.names.index(arrest_type)
        # the voxels where cells arrive or are recruited, found now (not in the step loop)
        if self.config is not None and self.config.arrest_label is not None:
            organ = organs.get(self.config.arrest_organ or "")
            if organ is not None:
                self._label_voxels(organ, self.config.arrest_label)
        for recruit in scenario.recruitment.values():
            self._label_voxels(organs[recruit.organ], recruit.label)

    # --- what rules sense (tissue.behaviours.Sensing) --------------------------------

    def _active(self, name: str) -> bool:
        return self._start[name] <= self.tick < self._end[name]

    def factor(self, signal: str) -> float:
        """1 - efficacy of each block on ``signal`` active now, multiplied."""
        out = 1.0
        for name, action in self.scenario.interventions.items():
            if isinstance(action, BlockSignal) and action.signal == signal and self._active(name):
                out *= 1.0 - action.efficacy
        return out

    def blood(self, species: str) -> Any:
        """Systemic concentration of ``species`` now (0-d float64 on the backend, or 0.0)."""
        return self.blood_values.get(species, 0.0)

    @property
    def time_min(self) -> float:
        """The simulated time now (min since day 0)."""
        return self.tick * self._base_min

    def signal_value(self, signal: str) -> Any:
        """A ``blood.<species>`` signal with active blocks applied."""
        return self.blood(parse_signal(signal).name) * self.factor(signal)

    def depleted(self, type_name: str) -> bool:
        """Whether an active depletion keeps ``type_name`` out now."""
        return any(
            isinstance(action, Depletion) and type_name in action.cell_types and self._active(name)
            for name, action in self.scenario.interventions.items()
        )

    # --- interventions ---------------------------------------------------------------

    def begin_tick(self, tick: int) -> None:
        """Set the clock and apply the one-time interventions due at ``tick``."""
        self.tick = tick
        for name, action in self.scenario.interventions.items():
            if self._start[name] != tick:
                continue
            if isinstance(action, Resection):
                self._remove(self.organs[action.organ], action.cell_types)
            elif isinstance(action, Depletion):
                for organ in self.organs.values():
                    self._remove(organ, action.cell_types)
            elif isinstance(action, Injection):
                self.ctc += action.count
                self.counters["injected"] += action.count
            elif isinstance(action, AddCells):
                stream = PLACEMENT_STREAMS * (1 + list(self.scenario.interventions).index(name))
                key = f"interventions.{name}.cells"
                place_cells(self.organs, self.scenario, action.cells, key, stream, self.random)

    def _remove(self, organ: Organ, type_names: list[str] | None) -> None:
        cells = organ.cells
        if type_names is None:
            cells.keep(cells.type < 0)
            return
        codes = organ.xp.asarray(self.types.index(type_names))
        cells.keep(~organ.xp.isin(cells.type, codes))

    # --- what a block stands for ----------------------------------------------------

    def _tumour_cells(self, organ: Organ) -> Any:
        """0-d int64 backend array: the block's live cells of its growth law's types."""
        cells = organ.cells
        codes = self._growth_codes[organ.name]
        return ((cells.state == LIVE) & organ.xp.isin(cells.type, codes)).sum()

    def whole_tumour_cells(self, organ: str, block_cells: float | None = None) -> float:
        """The whole tumour's cells now by the growth law of ``organ`` (0 once its block
        has none of them left: resected); ``block_cells`` saves a host read."""
        growth = self.scenario.organs[organ].growth
        assert growth is not None
        if block_cells is None:
            block_cells = float(to_numpy(self._tumour_cells(self.organs[organ])))
        return growth.cells(self.time_min / 1440.0) if block_cells > 0 else 0.0

    def stands_for(self, organ: str, block_cells: float | None = None) -> Any:
        """How many of the whole organ's cells (or the whole tumour's) each of the block's
        stands for now: 1 / whole_organ_fraction, or N(t) / the block's tumour cells for a
        block with a growth law (0 when it has none): a host float from ``block_cells``
        (the count read already), else a 0-d float64 on the backend (no host round trip)."""
        config = self.scenario.organs[organ]
        if config.growth is None:
            return 1.0 / config.whole_organ_fraction
        if block_cells is not None:
            return self.whole_tumour_cells(organ, block_cells) / block_cells if block_cells else 0.0
        xp = self.xp
        block = self._tumour_cells(self.organs[organ]).astype(xp.float64)
        whole = config.growth.cells(self.time_min / 1440.0)
        return xp.where(block > 0, whole / xp.maximum(block, 1.0), 0.0)

    # --- blood exchange (each diffusion step) ----------------------------------------

    def exchange(self, dt_min: float, exported: dict[str, dict[str, Any]]) -> None:
        """Blood concentrations after ``dt_min``: dC/dt = sum over organs of export /
        (V_blood / what the block stands for) - clearance C, with export (amount/min) from
        :meth:`FieldSolver.step` (0-d float64 on the backend); clearance is taken implicitly
        (stable at any step). Computed on the backend: no host round trip."""
        if self.config is None:
            return
        volume = self.config.blood_volume_um3
        for species, spec in self.config.species.items():
            gain = sum(
                flows.get(species, 0.0) * self.stands_for(organ)
                for organ, flows in exported.items()
                if species in flows
            )
            value = (self.blood_values[species] + dt_min * gain / volume) / (
                1.0 + dt_min * spec.clearance_per_min
            )
            self.blood_values[species] = self.xp.maximum(value, 0.0)

    # --- cells (each phenotype step) -------------------------------------------------

    def cells_step(self, tick: int, dt_min: float) -> None:
        """Intravasation, the fates of CTCs (death, arrest, arrival) and recruitment."""
        expected = sum(self._intravasate(organ, tick, dt_min) for organ in self.organs.values())
        host = self.random.host_stream(tick, Purpose.BLOOD)
        if expected > 0:
            n = int(host.poisson(expected))
            self.ctc += n
            self.counters["shed"] += n
        if self.config is not None and self.ctc:
            self._blood_fates(host, tick, dt_min)
        for index, recruit in enumerate(self.scenario.recruitment.values()):
            if not self.depleted(recruit.type):
                self._recruit(index, recruit, tick, dt_min)

    def _intravasating_types(self, organ: Organ) -> list[tuple[int, Any]]:
        return [
            (t, ctype)
            for t, ctype in enumerate(self.scenario.cell_types.values())
            if ctype.intravasation_rate_per_min > 0
            and ctype.intravasation_label in organ.label_codes
        ]

    def _intravasate(self, organ: Organ, tick: int, dt_min: float) -> float:
        """Live cells near their intravasation label leave the block, each with probability
        p = 1 - exp(-rate dt); returns the whole organ's expected CTCs from this step: the
        sum of p over the cells that could leave, times what the block stands for."""
        cells, xp = organ.cells, organ.xp
        kinds = self._intravasating_types(organ)
        if cells.n == 0 or not kinds:
            return 0.0
        flat = organ.grid.flat_index(xp, cells.position_um)
        leaving = xp.zeros(cells.n, dtype=bool)
        u = self.random.uniform(cells.id, tick, Purpose.INTRAVASATION)
        counts, chances = [], []
        for t, ctype in kinds:
            near = self._near_mask(
                organ, ctype.intravasation_label, ctype.intravasation_distance_um
            )
            p = -math.expm1(-ctype.intravasation_rate_per_min * dt_min)
            able = (cells.type == t) & (cells.state == LIVE) & near[flat]
            leaving |= able & (u[:, 0] < F32(p))
            counts.append(able.sum())
            chances.append(p)
        counts.append(leaving.sum())
        growth = organ.name in self._growth_codes
        if growth:
            counts.append(self._tumour_cells(organ))
        read = to_numpy(xp.stack(counts)).astype(float)  # one host read
        if read[len(kinds)]:
            cells.keep(~leaving)
        stands_for = self.stands_for(organ.name, read[-1] if growth else None)
        return stands_for * float(np.dot(read[: len(kinds)], chances))

    def _near_mask(self, organ: Organ, label: str, distance_um: float) -> Any:
        """(n_voxels,) bool: voxels whose centre is within ``distance_um`` of a voxel of
        ``label`` (centre to centre), computed once."""
        key = (organ.name, label, distance_um)
        if key not in self._near:
            near = organ.grid.near(organ.xp, organ.label_mask(label), distance_um)
            self._near[key] = near.reshape(-1)
        return self._near[key]

    def _label_voxels(self, organ: Organ, label: str) -> Any:
        """(k,) int64 flat indices of the voxels of ``label``, computed once."""
        key = (organ.name, label)
        if key not in self._voxels:
            xp = organ.xp
            mask = organ.label_mask(label).reshape(-1)
            self._voxels[key] = xp.nonzero(mask)[0].astype(xp.int64)
        return self._voxels[key]

    def _blood_fates(self, host: np.random.Generator, tick: int, dt_min: float) -> None:
        config = self.config
        assert config is not None
        total = config.arrest_rate_per_min + config.death_rate_per_min
        if total <= 0:
            return
        leaving = int(host.binomial(self.ctc, -math.expm1(-total * dt_min)))
        arresting = int(host.binomial(leaving, config.arrest_rate_per_min / total))
        organ = self.organs.get(config.arrest_organ or "")
        fraction = organ.config.whole_organ_fraction if organ is not None else 0.0
        arriving = int(host.binomial(arresting, fraction))
        self.ctc -= leaving
        self.counters["died_in_blood"] += leaving - arresting
        self.counters["lodged_elsewhere"] += arresting - arriving
        self.counters["arrested"] += arriving
        if arriving and organ is not None:
            self._arrive(organ, arriving, tick)

    def _arrive(self, organ: Organ, count: int, tick: int) -> None:
        """Place ``count`` arrested cells in random voxels of the arrest label; each
        founds its own lineage."""
        config = self.config
        assert config is not None
        assert config.arrest_label is not None
        assert config.arrest_type is not None
        xp, cells = organ.xp, organ.cells
        voxels = self._label_voxels(organ, config.arrest_label)
        if voxels.shape[0] == 0:
            self.counters["arrested"] -= count
            self.counters["lodged_elsewhere"] += count
            return
        ids = xp.arange(cells.next_id, cells.next_id + count, dtype=xp.int64)
        u = self.random.uniform(ids, tick, Purpose.ARRIVAL)
        pick = xp.minimum((u[:, 0] * voxels.shape[0]).astype(xp.int64), voxels.shape[0] - 1)
        positions = organ.grid.in_voxels(xp, voxels[pick], u[:, 1:4])
        organ.add_cells(self._arrest, positions, self.random, founder=ids)

    def _recruit(self, index: int, recruit: Any, tick: int, dt_min: float) -> None:
        """Each voxel of the recruitment label brings in a cell with probability
        1 - exp(-rate V_voxel dt)."""
        organ = self.organs[recruit.organ]
        xp = organ.xp
        voxels = self._label_voxels(organ, recruit.label)
        if voxels.shape[0] == 0:
            return
        activation: Any = F32(0)
        if recruit.signal is not None:
            signal: Any
            if parse_signal(recruit.signal).kind == "blood":
                signal = xp.asarray(self.signal_value(recruit.signal)).astype(xp.float32)
            elif recruit.signal in organ.fields:
                signal = organ.fields[recruit.signal].reshape(-1)[voxels] * F32(
                    self.factor(recruit.signal)
                )
            else:
                signal = F32(0)
            activation = hill_sum(xp, [(signal, recruit.half_max, recruit.hill_coefficient, True)])
        rate = F32(recruit.basal_per_mm3_per_min) + F32(recruit.max_per_mm3_per_min) * activation
        voxel_mm3 = organ.grid.voxel_volume_um3 * 1e-9
        p = -xp.expm1(-rate * F32(voxel_mm3 * dt_min))
        u = self.random.uniform(voxels, tick, Purpose.RECRUITMENT, index)
        positions = organ.grid.in_voxels(xp, voxels, u[:, 1:4])
        kind = self.types.names.index(recruit.type)
        organ.append_cells(kind, u[:, 0] < p, positions, self.random)

    def record_transitions(self, changed: Any) -> None:
        """Count extravasations, arrested cells that became another type, from a phenotype
        step's type changes ((n_types, n_types) int64 backend array or None); the count
        stays on the backend until the ledger is read."""
        arrest = self._arrest
        if arrest < 0 or changed is None:
            return
        self._extravasated = self._extravasated + changed[arrest].sum()

    def ledger(self) -> dict[str, int]:
        """The ledger's counters, with the extravasations counted on the backend added."""
        self.counters["extravasated"] += int(self._extravasated)
        self._extravasated = self.xp.zeros((), dtype=self.xp.int64)
        return self.counters

    # --- observables and state -------------------------------------------------------

    def observables(self) -> dict[str, float]:
        """``circulation.*`` (CTCs, systemic concentrations) and the ``ledger.*``."""
        if self.config is None:
            return {}
        out = {"circulation.ctc": float(self.ctc)}
        for organ in self._growth_codes:
            out[f"{organ}.whole_tumour.cells"] = self.whole_tumour_cells(organ)
        out.update({f"circulation.{k}": float(to_numpy(v)) for k, v in self.blood_values.items()})
        ledger: dict[str, float] = {k: float(v) for k, v in self.ledger().items()}
        ledger["in_blood"] = float(self.ctc)
        ledger.update(self._lineages())
        out.update({f"ledger.{k}": v for k, v in ledger.items()})
        return out

    def _lineages(self) -> dict[str, float]:
        """Where the cells that arrested in the block are now, one category each."""
        names = ("in_vessel", "died_in_organ", "solitary", "solitary_dormant")
        out = dict.fromkeys((*names, "micrometastases", "macrometastases"), 0.0)
        config = self.config
        organ = self.organs.get(config.arrest_organ or "") if config else None
        if organ is None or config is None or config.arrest_type is None:
            return out
        cells = organ.cells
        chosen = (cells.state == LIVE) & (cells.founder >= 0)
        founder = to_numpy(cells.founder[chosen])
        kind = to_numpy(cells.type[chosen])
        lineages, first, size = np.unique(founder, return_index=True, return_counts=True)
        arrest = self._arrest
        dormant = self.types.index(self.scenario.observables.dormant_types)
        single = size == 1
        in_vessel = single & (kind[first] == arrest)
        solitary = single & ~in_vessel
        macro = size >= self.scenario.observables.macrometastasis_cells
        out["in_vessel"] = float(in_vessel.sum())
        out["died_in_organ"] = float(self.counters["arrested"] - lineages.shape[0])
        out["solitary"] = float(solitary.sum())
        out["solitary_dormant"] = float((solitary & np.isin(kind[first], dormant)).sum())
        out["micrometastases"] = float((~single & ~macro).sum())
        out["macrometastases"] = float(macro.sum())
        return out

    def save_state(self, state: SimulationState) -> None:
        """Add the systemic concentrations ((1,) float64 each), the CTC count and the ledger
        counters to ``state``."""
        for name, value in self.blood_values.items():
            state.arrays[f"circulation/species/{name}"] = to_numpy(value).reshape(1)
        state.counters["circulation"] = {"ctc": self.ctc, **self.ledger()}

    def restore_state(self, state: SimulationState) -> None:
        """Take the blood and the ledger from ``state`` (a body without a circulation has
        none).

        Raises:
            ValueError: a species or counter is missing.
        """
        if self.config is None:
            return
        counters = state.counters.get("circulation")
        if counters is None:
            raise ValueError("missing the circulation counters")
        for name in self.blood_values:
            value = state.require(f"circulation/species/{name}")
            self.blood_values[name] = self.xp.asarray(
                float(np.asarray(value).reshape(-1)[0]), dtype=self.xp.float64
            )
        missing = [k for k in ("ctc", *LEDGER_COUNTERS) if k not in counters]
        if missing:
            raise ValueError(f"missing circulation counters {missing}")
        self.ctc = int(counters["ctc"])
        self.counters = {k: int(counters[k]) for k in LEDGER_COUNTERS}
        self._extravasated = self.xp.zeros((), dtype=self.xp.int64)
