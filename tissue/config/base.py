"""What every scenario model shares: the strict frozen base class, the annotated number and
vector types, the domain faces, the label limit, and :func:`require`, through which a model's
own validators report a bad value as one line on one key."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from tissue.limits import MAX_DAYS


def _list_to_tuple(value: Any) -> Any:
    """TOML arrays arrive as lists; fixed-length vectors are tuples."""
    return tuple(value) if isinstance(value, list) else value


NonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Vector3 = Annotated[tuple[Finite, Finite, Finite], BeforeValidator(_list_to_tuple)]
VoxelCount = Annotated[int, Field(ge=3)]
LayerCount = Annotated[int, Field(ge=1)]  # nz: 1 in a 2-D organ, else >= 3 (OrganConfig checks)
Shape3 = Annotated[tuple[VoxelCount, VoxelCount, LayerCount], BeforeValidator(_list_to_tuple)]
Spacing3 = Annotated[tuple[Positive, Positive, Positive], BeforeValidator(_list_to_tuple)]
FACES = ("x-", "x+", "y-", "y+", "z-", "z+")
Face = Literal["x-", "x+", "y-", "y+", "z-", "z+"]
Z_FACES = ("z-", "z+")  # no flux in a 2-D organ, whatever its fields' boundaries
MAX_LABELS = 256
CHECK_ERROR = "tissue_check"  # the pydantic error type of require(); see loading._describe


MAX_RATE_PER_MIN = 1.0e4  # a first-order rate above this acts within 0.1 ms: no process
MAX_MINUTES = MAX_DAYS * 1440.0


class Model(BaseModel):
    """Base of all scenario models: unknown keys are errors, values are frozen, and types are
    strict (a quoted "1" or a boolean is not a number).

    Every number is finite (see the number types) and, by its key's units suffix, in range:
    first-order rates (``*_rate_per_min``, ``decay_per_min``, ``uptake_per_min``,
    ``clearance_per_min``, ``permeability_per_min``) at most :data:`MAX_RATE_PER_MIN`,
    durations (``*_min``) at most :data:`MAX_MINUTES` and days (``*_day``, ``days``) at most
    :data:`MAX_DAYS`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    @model_validator(mode="after")
    def check_unit_limits(self) -> Self:
        """Rates, durations and days within the limits above."""
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, float | int):
                continue
            if name.endswith(FIRST_ORDER_RATES):
                require(
                    value <= MAX_RATE_PER_MIN,
                    name,
                    f"{value:g} per min; allowed: <= {MAX_RATE_PER_MIN:g} per min",
                )
            elif name.endswith("_min") and not name.endswith("per_min"):
                require(
                    value <= MAX_MINUTES, name, f"{value:g} min; allowed: <= {MAX_MINUTES:g} min"
                )
            elif name.endswith("_day") or name == "days":
                require(value <= MAX_DAYS, name, f"{value:g} days; allowed: <= {MAX_DAYS:g} days")
        return self


FIRST_ORDER_RATES = (
    "_rate_per_min",
    "decay_per_min",
    "uptake_per_min",
    "clearance_per_min",
    "permeability_per_min",
)


def require(ok: bool, field: str, message: str) -> None:
    """In a model's validator: unless ``ok``, report ``message`` on the key ``field`` of the
    model ("" for the model itself)."""
    if not ok:
        raise PydanticCustomError(CHECK_ERROR, "{message}", {"message": message, "field": field})
