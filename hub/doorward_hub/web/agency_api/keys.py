"""The services the agency API's handlers use, one `web.AppKey` each, and the officer of a
request."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from aiohttp import web

if TYPE_CHECKING:
    from doorward_hub.police.agency import AgencyHub
    from doorward_hub.police.staff import StaffMember, StaffTokens

AGENCY_PREFIX: Final = "/api/v1/agency"
"""Where the agency API is served (by `doorward-hub agency serve`)."""

AGENCY_HUB: web.AppKey[AgencyHub] = web.AppKey("agency_hub")
STAFF: web.AppKey[StaffTokens] = web.AppKey("staff")
OFFICER: web.RequestKey[StaffMember] = web.RequestKey("officer")
"""Who made the request (the holder of its bearer token)."""
