"""Doorbells that need their owner's device credentials (DoorBird): one repair issue per doorbell
while its hub waits for them or the device refuses them. The issue's fix flow (`repairs.py`)
takes the credentials in Home Assistant and hands them to the hub, so nobody needs the hub API.
"""

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from .api import Doorbell
from .const import DOMAIN
from .data import DoorwardData

PROBLEMS = {
    "credentials needed": "doorbell_credentials_needed",
    "credentials rejected": "doorbell_credentials_rejected",
    "permission missing": "doorbell_permission_missing",
}
"""The start of a doorbell's error on the hub -> the translation key of its repair issue."""


def credentials_issue_id(entry_id: str, doorbell_id: str) -> str:
    """The repair issue of one doorbell of one hub."""
    return f"doorbell_credentials_{entry_id}_{doorbell_id}"


def credentials_problem(doorbell: Doorbell) -> str | None:
    """The translation key of what is wrong with a doorbell's credentials, if anything."""
    if doorbell.status != "error" or not doorbell.error:
        return None
    return next((key for start, key in PROBLEMS.items() if doorbell.error.startswith(start)), None)


@callback
def async_track_credentials_issues(hass: HomeAssistant, data: DoorwardData) -> CALLBACK_TYPE:
    """Keep one fixable issue per doorbell whose credentials are missing or refused; the
    returned callback stops and removes them (the entry unloads)."""
    raised: dict[str, str] = {}

    @callback
    def sync() -> None:
        wanted = {
            doorbell.id: problem
            for doorbell in data.doorbells.values()
            if (problem := credentials_problem(doorbell)) is not None
        }
        for doorbell_id, problem in wanted.items():
            doorbell = data.doorbells[doorbell_id]
            if raised.get(doorbell_id) == problem:
                continue
            ir.async_create_issue(
                hass,
                DOMAIN,
                credentials_issue_id(data.entry.entry_id, doorbell_id),
                is_fixable=True,
                is_persistent=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key=problem,
                translation_placeholders={"name": doorbell.name, "error": doorbell.error or ""},
                data={"entry_id": data.entry.entry_id, "doorbell_id": doorbell_id},
            )
        for doorbell_id in set(raised) - set(wanted):
            ir.async_delete_issue(
                hass, DOMAIN, credentials_issue_id(data.entry.entry_id, doorbell_id)
            )
        raised.clear()
        raised.update(wanted)

    sync()
    stop_listening = data.async_add_listener(None, sync)

    @callback
    def stop() -> None:
        stop_listening()
        for doorbell_id in raised:
            ir.async_delete_issue(
                hass, DOMAIN, credentials_issue_id(data.entry.entry_id, doorbell_id)
            )
        raised.clear()

    return stop
