"""The Doorward integration: a self-hosted doorbell hub and its doorbells."""

from homeassistant.const import CONF_HOST, CONF_PORT, CONF_TOKEN
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.typing import ConfigType

from .api import DoorwardClient, DoorwardError
from .const import CONF_TOKEN_ID, DOMAIN, LOGGER, PLATFORMS
from .credentials import async_track_credentials_issues
from .data import DoorwardConfigEntry, DoorwardData, StoredState, create_store
from .errors import setup_error
from .services import async_setup_services
from .views import DoorwardClipView, DoorwardNeighborPostView

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions and the clip relay once, for every hub."""
    async_setup_services(hass)
    hass.http.register_view(DoorwardClipView(hass))
    hass.http.register_view(DoorwardNeighborPostView(hass))
    return True


def _client(hass: HomeAssistant, entry: DoorwardConfigEntry) -> DoorwardClient:
    return DoorwardClient(
        async_get_clientsession(hass),
        entry.data[CONF_HOST],
        entry.data[CONF_PORT],
        entry.data[CONF_TOKEN],
    )


async def async_setup_entry(hass: HomeAssistant, entry: DoorwardConfigEntry) -> bool:
    """Connect to the hub, add its devices and entities, and start the push connection."""
    client = _client(hass, entry)
    store = create_store(hass, entry.entry_id)
    stored = await store.async_load()
    try:
        info = await client.info()
        if info.hub_id != entry.unique_id:
            raise ConfigEntryNotReady(
                translation_domain=DOMAIN,
                translation_key="wrong_hub",
                translation_placeholders={
                    "url": str(client.base_url),
                    "expected": str(entry.unique_id),
                    "found": info.hub_id,
                },
            )
        doorbells = await client.doorbells()
        group = await client.neighborhood()
        if first_start := stored is None:
            # Follow the hub from now on rather than replaying its whole history.
            stored = StoredState(
                last_seq=(await client.events(limit=1)).last_seq, press_snapshots={}
            )
    except DoorwardError as err:
        raise setup_error(entry, client, err) from err

    if first_start:
        await store.async_save(stored)
    data = DoorwardData(
        hass,
        entry,
        client,
        info=info,
        doorbells=doorbells,
        group=group,
        store=store,
        stored=stored,
    )
    entry.runtime_data = data
    data.async_register_hub_device()
    data.async_remove_stale_devices()
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    data.async_start()
    entry.async_on_unload(data.neighborhood.async_start())
    entry.async_on_unload(async_track_credentials_issues(hass, data))
    return True


async def async_unload_entry(hass: HomeAssistant, entry: DoorwardConfigEntry) -> bool:
    """Stop the push connection and unload the entities."""
    if unload_ok := await hass.config_entries.async_unload_platforms(entry, PLATFORMS):
        await entry.runtime_data.async_stop()
    return unload_ok


async def async_remove_entry(hass: HomeAssistant, entry: DoorwardConfigEntry) -> None:
    """Revoke Home Assistant's token at the hub (if reachable) and forget the resume position."""
    try:
        await _client(hass, entry).revoke_token(entry.data[CONF_TOKEN_ID])
    except DoorwardError as err:
        LOGGER.warning(
            "Could not revoke Home Assistant's token at Doorward hub %s (%s); "
            "revoke it on the hub if it is still in use",
            entry.title,
            err,
        )
    await create_store(hass, entry.entry_id).async_remove()


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: DoorwardConfigEntry, device_entry: dr.DeviceEntry
) -> bool:
    """Allow removing a doorbell's (or group's) device only once the hub no longer has it."""
    return not device_entry.identifiers & entry.runtime_data.async_known_identifiers()
