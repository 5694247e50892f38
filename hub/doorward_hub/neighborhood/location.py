"""Coarse location: the home's H3 cell at resolution 8 (about 0.7 km²). The home's coordinates
never leave the hub; posts carry only the cell (DESIGN.md, privacy invariant 5)."""

from __future__ import annotations

from typing import Final

RESOLUTION: Final = 8


def home_cell(latitude: float, longitude: float) -> str:
    """The resolution-8 cell holding the home."""
    import h3  # noqa: PLC0415 - loaded once a home location is set, not by every hub

    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise ValueError("latitude or longitude out of range")
    return str(h3.latlng_to_cell(latitude, longitude, RESOLUTION))


def is_cell(text: object) -> bool:
    """True for a valid resolution-8 H3 cell id."""
    if not isinstance(text, str):
        return False
    import h3  # noqa: PLC0415 - see `home_cell`

    return bool(h3.is_valid_cell(text)) and h3.get_resolution(text) == RESOLUTION


def cells_apart(home: str, other: str) -> int | None:
    """Grid distance between two cells, or None when H3 cannot tell (too far apart)."""
    if not is_cell(other):
        return None
    import h3  # noqa: PLC0415 - see `home_cell`

    try:
        return int(h3.grid_distance(home, other))
    except h3.H3BaseException:
        return None
