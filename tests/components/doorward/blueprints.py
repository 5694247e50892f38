"""The repository's blueprints as a user installs them, and automations made from them."""

import shutil
from pathlib import Path

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import slugify

REPO = Path(__file__).parents[3]


def install_blueprint(config_dir: str, blueprint: str) -> str:
    """Copy `blueprints/automation/<blueprint>` into Home Assistant's `config_dir`."""
    target = Path(config_dir) / "blueprints" / "automation" / Path(blueprint).parent
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "blueprints" / "automation" / blueprint, target)
    return config_dir


async def async_setup_blueprint_automation(
    hass: HomeAssistant, blueprint: str, alias: str, inputs: dict[str, object]
) -> None:
    """An automation named `alias`, made from `blueprint` with `inputs`, and switched on."""
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "id": slugify(alias),
                "alias": alias,
                "use_blueprint": {"path": blueprint, "input": inputs},
            }
        },
    )
    await hass.async_block_till_done()
    assert hass.states.get(f"automation.{slugify(alias)}").state == "on"
