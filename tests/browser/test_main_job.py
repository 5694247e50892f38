"""The main job, end to end, as a person does it in Home Assistant's real frontend.

`scripts/demo` starts the hub, two simulated doorbells and Home Assistant; a headless Chromium
logs in, finds the hub and the doorbells, watches the live view, presses a doorbell and sees the
ring and its picture, plays the clip in the media browser, makes an automation from the
notify-on-ring blueprint and sees it fire, looks at a doorbell in privacy mode, and sees the post
a neighbor household (its own hub, in the demo's neighborhood group) shared. Then the
console, Home Assistant's log and its listening sockets are checked, and the demo is run again
on the same folder: the same doorbells come back.

The steps run in order on one tab (pytest keeps the file's order). Each saves a screenshot.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.support import LOOPBACK

from .conftest import BrowserLog, DemoStack

# The first step also waits for the demo to start (Home Assistant's first start, a new homeserver
# and group included; conftest.DEMO_START_TIMEOUT is shorter, so a slow start stops the demo).
pytestmark = pytest.mark.timeout(600)
# Home Assistant's pages render slowly on a loaded machine: wait up to 20 s for what should show
# (Playwright's default is 5 s). A wait limit, not a speed target.
expect.set_options(timeout=20_000)

DOORBELLS = ("Doorbell 1", "Doorbell 2")
# What each doorbell shows on its device page: the camera (named after the device) and these.
DOORBELL_ENTITIES = ("Last press", "Clip", "Doorbell", "Motion", "Privacy mode", "Connectivity")
DOORWARD_BLUEPRINTS = (
    "Doorward - notify on ring",
    "Doorward - notify on clip",
    "Doorward - record on trigger",
    "Doorward - privacy mode while someone is home",
)
# default_config's integrations that work without the internet, a Bluetooth adapter or the
# go2rtc program (scripts/ha_demo.py says why each other one is left out).
OFFLINE_DEFAULT_CONFIG = {
    "assist_pipeline",
    "assist_satellite",
    "conversation",
    "dhcp",
    "energy",
    "file",
    "history",
    "logbook",
    "media_source",
    "mobile_app",
    "my",
    "ssdp",
    "stream",
    "sun",
    "usage_prediction",
    "usb",
    "webhook",
    "zeroconf",
}
# Each Doorward blueprint and the name of its first input, as the automation editor shows them.
BLUEPRINT_FIRST_INPUTS = {
    "Doorward - notify on clip": "Doorbell clips",
    "Doorward - record on trigger": "When",
    "Doorward - privacy mode while someone is home": "People",
}
# Parts of Doorward a browser talks to: its pages, its brand images, its media and entities.
DOORWARD_MARKERS = ("doorward", "doorbell_1", "doorbell_2", "demo_hub")
# What the neighbor household writes with the clip it shares (scripts/demo_neighborhood.py).
SHARE_MESSAGE = "Parcel delivered at the neighbor's door (shared from the Doorward demo)"


def shot(page: Page, screenshots: Path, name: str) -> None:
    """Save a screenshot of what the person sees now."""
    page.screenshot(path=screenshots / f"{name}.png")


def visible(locator: Locator) -> Locator:
    """Only the visible matches (the frontend keeps hidden tooltips with the same text)."""
    return locator.filter(visible=True)


def open_device(page: Page, demo: DemoStack, name: str) -> None:
    """Settings → Devices & services → Doorward → the device."""
    page.goto(f"{demo.url}/config/integrations/integration/doorward")
    visible(page.get_by_text(name, exact=True)).first.click()
    page.wait_for_url("**/config/devices/device/**")
    expect(visible(page.get_by_text("Device info"))).to_be_visible()


def video_progress(video: Locator) -> tuple[float, int, int]:
    """(current time, ready state, width) of a <video> element."""
    current, ready, width = video.evaluate("v => [v.currentTime, v.readyState, v.videoWidth]")
    return float(current), int(ready), int(width)


def wait_playing(page: Page, video: Locator, seconds: float = 2.0, timeout: float = 60.0) -> None:
    """Wait until `video` has played at least `seconds`."""
    deadline = time.monotonic() + timeout
    while (progress := video_progress(video))[0] < seconds:
        assert time.monotonic() < deadline, f"the video does not play: {progress}"
        page.wait_for_timeout(500)


def test_log_in(page: Page, demo: DemoStack, screenshots: Path) -> None:
    """The login page takes the user and password the demo printed."""
    page.goto(demo.url)
    expect(page.get_by_role("textbox", name="Username")).to_be_visible()
    page.get_by_role("textbox", name="Username").fill(demo.home_assistant["user"])
    page.get_by_role("textbox", name="Password").fill(demo.home_assistant["password"])
    shot(page, screenshots, "01-login")
    page.keyboard.press("Enter")
    page.wait_for_url("**/home/**")
    expect(visible(page.get_by_text("Welcome doorward"))).to_be_visible()
    shot(page, screenshots, "02-overview")


def test_default_config_integrations_loaded(page: Page, demo: DemoStack) -> None:
    """The parts of default_config that run offline are loaded (none failed on a package)."""
    components = set(
        page.evaluate("() => document.querySelector('home-assistant').hass.config.components")
    )
    missing = OFFLINE_DEFAULT_CONFIG - components
    assert not missing, f"not loaded: {sorted(missing)}"
    assert "doorward" in components


def test_integration_page_shows_hub_and_doorbells(
    page: Page, demo: DemoStack, screenshots: Path
) -> None:
    """The Doorward page lists the hub and both doorbells, and the neighborhood group (a service
    device); each doorbell has its entities."""
    page.goto(f"{demo.url}/config/integrations/integration/doorward")
    expect(visible(page.get_by_text("3 devices"))).to_be_visible()
    expect(visible(page.get_by_text("1 service"))).to_be_visible()
    for name in ("Demo hub", *DOORBELLS, "Demo Street"):
        expect(visible(page.get_by_text(name, exact=True)).first).to_be_visible()
    shot(page, screenshots, "03-integration")
    for number, name in enumerate(DOORBELLS, 1):
        open_device(page, demo, name)
        for entity in (name, *DOORBELL_ENTITIES):
            expect(visible(page.get_by_text(entity, exact=True)).first).to_be_visible()
        # Before the first press there is no picture to show: "Unknown", and no broken image.
        expect(visible(page.get_by_text("Unknown")).first).to_be_visible()
        shot(page, screenshots, f"04-doorbell-{number}")


def test_live_view_plays_and_changes(page: Page, demo: DemoStack, screenshots: Path) -> None:
    """The camera's live view plays, and its picture changes (the burned-in clock runs)."""
    open_device(page, demo, "Doorbell 1")
    # The camera is the row named like the device, in the device's entity cards.
    visible(page.get_by_text("Doorbell 1", exact=True)).nth(1).click()
    video = page.locator("ha-more-info-dialog video")
    expect(video).to_be_visible()
    wait_playing(page, video)
    first = video.screenshot(path=screenshots / "05-live-view-a.png")
    page.wait_for_timeout(1500)
    second = video.screenshot(path=screenshots / "05-live-view-b.png")
    assert first != second, "the live picture does not change"
    assert video_progress(video)[2] == 320  # the simulator's picture width
    shot(page, screenshots, "05-live-view")
    page.keyboard.press("Escape")


def test_press_shows_ring_and_snapshot(page: Page, demo: DemoStack, screenshots: Path) -> None:
    """A press shows "Ring" on the doorbell's event entity and the press picture, in seconds."""
    open_device(page, demo, "Doorbell 1")
    demo.press(0)
    pressed = time.monotonic()
    expect(visible(page.get_by_text("Ring", exact=True)).first).to_be_visible(timeout=10_000)
    # "Last press" changes from "Unknown" to the time of the press.
    sensors = page.locator("ha-card").filter(has_text="Sensors")
    expect(sensors.get_by_text("Unknown")).to_have_count(0, timeout=10_000)
    shot(page, screenshots, "06-ring")
    # The "Last press" picture opens, and it is a real image.
    visible(page.get_by_text("Last press", exact=True)).first.click()
    image = page.locator("ha-more-info-dialog img")
    expect(image).to_be_visible()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    assert image.evaluate("img => img.naturalWidth") == 320
    assert time.monotonic() - pressed < 15
    shot(page, screenshots, "07-last-press")
    page.keyboard.press("Escape")


def test_clip_plays_in_the_media_browser(page: Page, demo: DemoStack, screenshots: Path) -> None:
    """The press's clip is in Media → Doorward → hub → doorbell → day, and it plays."""
    deadline = time.monotonic() + 60
    while True:
        page.goto(f"{demo.url}/media-browser/browser")
        visible(page.get_by_text("Doorward", exact=True)).first.click()
        visible(page.get_by_text("Demo hub", exact=True)).first.click()
        visible(page.get_by_text("Doorbell 1", exact=True)).first.click()
        days = visible(page.locator("ha-media-player-browse .child .title"))
        page.wait_for_timeout(1000)
        if days.count() or time.monotonic() > deadline:
            break
        page.wait_for_timeout(3000)  # the clip is written after its post-roll
    shot(page, screenshots, "08-media-doorbell")
    days.first.click()
    # A clip is named by its time, what started it and its length: "17:06:51 Ring (15 s)".
    clip = visible(page.get_by_text(re.compile(r"\d\d:\d\d:\d\d Ring \(\d+ s\)"))).first
    expect(clip).to_be_visible()
    shot(page, screenshots, "09-media-clips")
    clip.click()
    video = page.locator("video").filter(visible=True)
    expect(video.first).to_be_visible(timeout=20_000)
    wait_playing(page, video.first, seconds=1.0)
    shot(page, screenshots, "10-clip-playing")
    page.keyboard.press("Escape")


def test_blueprints_listed_and_notify_on_ring_fires(
    page: Page, demo: DemoStack, screenshots: Path
) -> None:
    """The Doorward blueprints are listed; one made from notify-on-ring in the UI fires."""
    page.goto(f"{demo.url}/config/blueprint/dashboard")
    for name in DOORWARD_BLUEPRINTS:
        expect(visible(page.get_by_text(name, exact=True)).first).to_be_visible()
    shot(page, screenshots, "11-blueprints")
    # Each opens in the automation editor with its inputs.
    for number, (name, first_input) in enumerate(BLUEPRINT_FIRST_INPUTS.items(), 1):
        page.goto(f"{demo.url}/config/blueprint/dashboard")
        visible(page.get_by_text(name, exact=True)).first.click()
        page.wait_for_url("**/config/automation/edit/new")
        expect(visible(page.get_by_text(first_input, exact=True)).first).to_be_visible()
        shot(page, screenshots, f"11-blueprint-{number}")

    page.goto(f"{demo.url}/config/blueprint/dashboard")

    visible(page.get_by_text("Doorward - notify on ring", exact=True)).first.click()
    page.wait_for_url("**/config/automation/edit/new")
    visible(page.get_by_text("Select an entity")).first.click()
    # The picker offers only Doorward doorbell event entities: "Doorbell / Doorbell 1 / Event".
    options = visible(page.locator("ha-combo-box-item").filter(has_text="Event"))
    expect(options.first).to_be_visible()
    assert set(options.all_inner_texts()) <= {f"Doorbell\n{name}\nEvent" for name in DOORBELLS}, (
        options.all_inner_texts()
    )
    shot(page, screenshots, "12-entity-picker")
    options.filter(has_text="Doorbell 1").first.click()
    chosen = page.locator("ha-settings-row").filter(has_text="The doorbell's event entity")
    expect(chosen.get_by_text("Doorbell 1")).to_be_visible()
    row = page.locator("ha-settings-row").filter(has_text="Notify action")
    notify = visible(row.get_by_role("textbox")).first
    notify.click()
    notify.press_sequentially("notify.persistent_notification")
    expect(notify).to_have_value("notify.persistent_notification")
    shot(page, screenshots, "12-automation-from-blueprint")
    visible(page.get_by_role("button", name="Save")).last.click()
    page.wait_for_url(re.compile(r".*/config/automation/edit/(?!new)[^/]+$"))
    shot(page, screenshots, "13-automation-saved")

    demo.press(0)
    page.goto(f"{demo.url}/config/integrations/integration/doorward")
    visible(page.get_by_text("Notifications", exact=True)).first.click()
    drawer = page.locator("notification-drawer")
    expect(drawer.get_by_text("Someone is at the Doorbell 1.")).to_be_visible(timeout=20_000)
    shot(page, screenshots, "14-notification")
    # Only the automation's notification: no "Invalid config", no failed login.
    assert drawer.locator("notification-item").count() == 1
    page.keyboard.press("Escape")


def test_privacy_mode_explains_the_blank_camera(
    page: Page, demo: DemoStack, screenshots: Path
) -> None:
    """In privacy mode the camera shows a picture saying so, not a blank view."""
    open_device(page, demo, "Doorbell 2")
    configuration = page.locator("ha-card").filter(has_text="Configuration")
    configuration.locator("ha-entity-toggle").click()  # the "Privacy mode" switch
    expect(configuration.get_by_role("switch")).to_be_checked()
    visible(page.get_by_text("Doorbell 2", exact=True)).nth(1).click()
    image = page.locator("ha-more-info-dialog img")
    expect(image.first).to_be_visible(timeout=20_000)
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.first.element_handle()
    )
    assert image.first.evaluate("img => img.naturalWidth") == 640  # the notice, not the camera
    assert page.locator("ha-more-info-dialog video").count() == 0
    shot(page, screenshots, "15-privacy-mode")
    page.keyboard.press("Escape")


def neighbor_post_entity(page: Page) -> dict[str, Any]:
    """The hub's `neighbor_post` event entity as the frontend knows it (registry entry + state).

    Found by its platform and translation key, not its entity id: that changes if the entity
    moves to another device (a group's).
    """
    # The frontend's state arrives after the page has loaded.
    page.wait_for_function("() => document.querySelector('home-assistant')?.hass?.entities")
    found = page.evaluate(
        """() => {
            const hass = document.querySelector('home-assistant').hass;
            const entry = Object.values(hass.entities).find(
                e => e.platform === 'doorward' && e.translation_key === 'neighbor_post');
            return entry ? {...entry, state: hass.states[entry.entity_id]} : null;
        }"""
    )
    assert found is not None, "no Doorward neighbor_post entity"
    return dict(found)


def test_neighbor_post_shows(page: Page, demo: DemoStack, screenshots: Path) -> None:
    """The neighbor household's shared clip arrived: the "Neighbor post" event fired, verified."""
    page.goto(f"{demo.url}/config/integrations/integration/doorward")
    entity = neighbor_post_entity(page)
    attributes = entity["state"]["attributes"]
    assert attributes["event_type"] == "neighbor_post"
    assert attributes["message"] == SHARE_MESSAGE
    assert attributes["verified"] is True, attributes.get("verification")
    assert attributes["has_video"] is True
    assert isinstance(attributes["cells_from_home"], int)
    page.goto(f"{demo.url}/config/devices/device/{entity['device_id']}")
    # The group's device is a service: its page says "Service info".
    expect(visible(page.get_by_text("Service info"))).to_be_visible()
    expect(visible(page.get_by_text("Neighbor post", exact=True)).first).to_be_visible()
    shot(page, screenshots, "16-neighbor-post-device")


def test_no_browser_errors_from_doorward(browser_log: BrowserLog) -> None:
    """Nothing of Doorward's failed in the browser: no console error, no failed request."""

    def doorwards(text: str) -> bool:
        return any(marker in text.lower() for marker in DOORWARD_MARKERS)

    errors = [
        (text, where)
        for kind, text, where in browser_log.console
        if kind == "error" and (doorwards(text) or doorwards(where))
    ]
    assert errors == []
    failed = [(status, url) for status, url in browser_log.failed_responses if doorwards(url)]
    assert failed == []
    assert [(s, u) for s, u in browser_log.failed_responses if s >= 500] == []


def test_home_assistant_log_and_sockets(demo: DemoStack, screenshots: Path) -> None:
    """No ERROR in Home Assistant's log; it, the hub and the doorbells listen on 127.0.0.1 only."""
    log = demo.ha_log.read_text(encoding="utf-8", errors="replace")
    entries = re.findall(r"^\S+ \S+ (ERROR|CRITICAL|WARNING) .*$", log, flags=re.MULTILINE)
    assert "ERROR" not in entries
    assert "CRITICAL" not in entries
    warnings = [line for line in log.splitlines() if " WARNING " in line]
    (screenshots / "home-assistant-warnings.txt").write_text("\n".join(warnings) + "\n")

    assert demo.process is not None
    processes = psutil.Process(demo.process.pid).children(recursive=True)
    listening = {
        (connection.laddr.ip, connection.laddr.port)
        for process in processes
        for connection in process.net_connections(kind="tcp")
        if connection.status == psutil.CONN_LISTEN
    }
    assert ("127.0.0.1", demo.ha_port) in listening
    assert ("127.0.0.1", demo.hub_port) in listening
    assert {ip for ip, _ in listening} == {"127.0.0.1"}

    # Home Assistant's HTTP settings are confirmed, not a trial it would revert (and restart
    # for) five minutes later; configuration.yaml has no http: block.
    http = json.loads((demo.folder / "ha-config" / ".storage" / "http").read_text())["data"]
    assert http["pending"] is None
    assert http["stable"]["server_host"] == ["127.0.0.1"]
    configuration = (demo.folder / "ha-config" / "configuration.yaml").read_text()
    assert not re.search(r"^http:", configuration, flags=re.MULTILINE)
    # The blueprints are a real folder: Home Assistant does not look into symlinked ones.
    blueprints = demo.folder / "ha-config" / "blueprints" / "automation" / "doorward"
    assert blueprints.is_dir()
    assert not blueprints.is_symlink()


def test_console_ends_with_one_clear_block(demo: DemoStack) -> None:
    """The demo's console: progress, then URL, login, a pairing code and the press commands."""
    console = demo.console_log.read_text(encoding="utf-8")
    block = console[console.index("Doorward demo is running") :]
    assert f"Home Assistant:  {demo.url}" in block
    assert "log in as:     doorward / doorward" in block
    code = re.search(r"pairing code:    ([A-Z0-9]{4}-[A-Z0-9]{4})", block)
    assert code is not None
    # The printed code works (Home Assistant used the first one): a new client pairs with it.
    request = urllib.request.Request(
        f"http://{LOOPBACK}:{demo.hub_port}/api/v1/pair",
        data=json.dumps({"code": code[1], "client_name": "browser test"}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        assert json.loads(response.read())["token"]
    for doorbell in demo.doorbells:
        assert f"doorward-hub press {doorbell['url']}" in block
    # The neighborhood: the homeserver, the group, the neighbor's hub, an invite to try by hand.
    assert f"homeserver:      http://{LOOPBACK}:{demo.synapse_port}" in block
    assert "group:           'Demo Street'" in block
    assert f"neighbor's hub:  http://{LOOPBACK}:{demo.neighbor_hub_port}" in block
    assert re.search(r"^  doorward-invite:[A-Za-z0-9_-]+$", block, flags=re.MULTILINE)
    assert "Home Assistant shows the neighbor's post (now)" in console
    assert "Traceback" not in console


def test_second_run_reuses_the_doorbells(page: Page, demo: DemoStack, screenshots: Path) -> None:
    """Run the demo again on the same folder: the same hub and doorbells, nothing doubled."""
    ids = [doorbell["id"] for doorbell in demo.doorbells]
    demo.stop()
    printed_before = demo.console_log.stat().st_size
    demo.start()
    assert [doorbell["id"] for doorbell in demo.doorbells] == ids
    # The same group, and no second share: a share is one person's decision, made once.
    printed = demo.printed(printed_before)
    assert "the group 'Demo Street' exists" in printed
    assert "a re-run shares nothing again" in printed
    assert "Home Assistant shows the neighbor's post (from an earlier run)" in printed
    page.goto(f"{demo.url}/config/integrations/integration/doorward")
    if page.get_by_role("textbox", name="Username").count():
        page.get_by_role("textbox", name="Username").fill(demo.home_assistant["user"])
        page.get_by_role("textbox", name="Password").fill(demo.home_assistant["password"])
        page.keyboard.press("Enter")
    expect(visible(page.get_by_text("3 devices"))).to_be_visible()
    shot(page, screenshots, "17-second-run")
    open_device(page, demo, "Doorbell 1")
    shot(page, screenshots, "18-second-run-doorbell")
    # The doorbell is back: online, its camera idle, the clip of the first run still there.
    diagnostic = page.locator("ha-card").filter(has_text="Diagnostic")
    expect(diagnostic.get_by_text("Online")).to_be_visible(timeout=30_000)
    log = demo.ha_log.read_text(encoding="utf-8", errors="replace")
    assert not re.search(r"^\S+ \S+ (ERROR|CRITICAL) ", log, flags=re.MULTILINE)
