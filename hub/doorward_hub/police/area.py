"""A request's area: the agency draws a polygon, the request carries H3 cells at resolution 9.

Each household checks locally whether its own resolution-9 cell is one of them; the home's
coordinates and cell never leave the hub (DESIGN.md, invariant 5).
"""

from __future__ import annotations

from collections.abc import Sequence

import h3

from .event_types import AREA_RESOLUTION, MAX_AREA_CELLS


class InvalidArea(ValueError):
    """A polygon that cannot be a request's area; the message says why."""


def polygon_cells(polygon: Sequence[tuple[float, float]]) -> tuple[str, ...]:
    """The resolution-9 cells covering `polygon` (latitude, longitude vertices), sorted.

    A cell belongs to the area when the polygon overlaps it at all, so a home near the edge is
    asked rather than silently left out."""
    if len(polygon) < 3:
        raise InvalidArea("an area needs at least three corners")
    for latitude, longitude in polygon:
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise InvalidArea("a corner's latitude or longitude is out of range")
    shape = h3.LatLngPoly([(float(lat), float(lng)) for lat, lng in polygon])
    try:
        cells = h3.h3shape_to_cells_experimental(shape, AREA_RESOLUTION, contain="overlap")
    except h3.H3BaseException as err:
        raise InvalidArea(f"the polygon is not a simple shape H3 can fill: {err}") from err
    if len(cells) > MAX_AREA_CELLS:
        raise InvalidArea(f"the area covers more than {MAX_AREA_CELLS} cells")
    return tuple(sorted(str(cell) for cell in cells))


def home_area_cell(latitude: float, longitude: float) -> str:
    """The home's resolution-9 cell, to compare with requests' areas (never sent anywhere)."""
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise ValueError("latitude or longitude out of range")
    return str(h3.latlng_to_cell(latitude, longitude, AREA_RESOLUTION))


def contains_home(cells: Sequence[str], home_cell: str) -> bool:
    """True if the request's area includes the home's cell."""
    return home_cell in cells
