"""What every scenario model shares: the strict frozen base class, the annotated number and
vector types, the domain faces, the label limit, and :func:`require`, through which a model's
own validators report a bad value as one line on one key."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError


def _list_to_tuple(value: Any) -> Any:
    """TOML arrays arrive as lists; fixed-length vectors are tuples."""
    return tuple(value) if isinstance(value, list) else value


NonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Vector3 = Annotated[tuple[Finite, Finite, Finite], BeforeValidator(_list_to_tuple)]
VoxelCount = Annotated[int, Field(ge=3)]
Shape3 = Annotated[tuple[VoxelCount, VoxelCount, VoxelCount], BeforeValidator(_list_to_tuple)]
Spacing3 = Annotated[tuple[Positive, Positive, Positive], BeforeValidator(_list_to_tuple)]
FACES = ("x-", "x+", "y-", "y+", "z-", "z+")
Face = Literal["x-", "x+", "y-", "y+", "z-", "z+"]
MAX_LABELS = 256
CHECK_ERROR = "tissue_check"  # the pydantic error type of require(); see loading._describe


class Model(BaseModel):
    """Base of all scenario models: unknown keys are errors, values are frozen, and types are
    strict (a quoted "1" or a boolean is not a number)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def require(ok: bool, field: str, message: str) -> None:
    """In a model's validator: unless ``ok``, report ``message`` on the key ``field`` of the
    model ("" for the model itself)."""
    if not ok:
        raise PydanticCustomError(CHECK_ERROR, "{message}", {"message": message, "field": field})
