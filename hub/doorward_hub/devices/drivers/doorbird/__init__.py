"""Driver for DoorBird door stations, through their LAN API (paths under `/bha-api/`, HTTP basic
auth).

DoorBirds advertise `_axis-video._tcp.local.` with a TXT `macaddress` starting `1CCAE3`; so do
DoorBird accessories, which are told apart by asking the device (`driver.DoorBirdDriver.confirm`).
They cannot pair: the owner enters the credentials of a DoorBird user with the "API-Operator"
permission (`PUT /api/v1/doorbells/{id}/credentials`, or the repair in Home Assistant). Events are
pushed to the hub's notification URL by HTTP favorites the driver registers (`registration`),
or read from `monitor.cgi` on devices without a schedule (D301). `unpair` removes what the hub
registered.

Modules: `client` (the LAN API calls), `registration` (favorites and schedule),
`notifications` (notifications -> events), `driver` (the `DoorbellDriver`).
"""

from .driver import DoorBirdDriver

__all__ = ["DoorBirdDriver"]
