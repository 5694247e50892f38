"""The event bus: device events are stored first, then pushed to every subscribed client."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from doorward_hub.devices.drivers.base import DeviceEvent
from doorward_hub.models import Doorbell, Event
from doorward_hub.storage.events import EventRepository
from doorward_hub.wire import messages, objects

_LOGGER = logging.getLogger(__name__)

# A client that falls this far behind is disconnected; it resumes from its last seq.
SUBSCRIBER_QUEUE_SIZE = 1000

type Message = dict[str, Any]


@dataclass(eq=False, slots=True)
class Subscription:
    """One client's feed of messages. `closed` is set when the hub ends it (code, reason)."""

    token_id: str | None
    queue: asyncio.Queue[Message | None] = field(
        default_factory=lambda: asyncio.Queue(SUBSCRIBER_QUEUE_SIZE)
    )
    closed: tuple[int, str] | None = None

    def close(self, code: int, reason: str) -> None:
        """End the feed; the reader sees None next."""
        if self.closed is None:
            self.closed = (code, reason)
            # Make room for the wake-up; the client resumes from its seq anyway.
            while self.queue.full():
                self.queue.get_nowait()
            self.queue.put_nowait(None)


@dataclass(frozen=True, slots=True)
class Recorded:
    """What `EventBus.record` did with a device event."""

    event: Event
    merged: bool


class EventBus:
    """Stores events in order and fans them (and state messages) out to subscribers."""

    def __init__(self, store: EventRepository, press_merge_seconds: float) -> None:
        """Bind to the store; presses within `press_merge_seconds` of each other merge."""
        self._store = store
        self._merge_seconds = press_merge_seconds
        self._subscriptions: set[Subscription] = set()

    def subscribe(self, token_id: str | None) -> Subscription:
        """Start receiving messages published from now on."""
        subscription = Subscription(token_id)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop receiving messages."""
        self._subscriptions.discard(subscription)

    def publish(self, message: Message) -> None:
        """Send a message to every subscriber; one that cannot keep up is disconnected."""
        for subscription in list(self._subscriptions):
            if subscription.closed:
                continue
            try:
                subscription.queue.put_nowait(message)
            except asyncio.QueueFull:
                _LOGGER.warning("A client fell behind; disconnecting it so it resumes")
                subscription.close(1013, "too slow, resume from your last seq")

    def close_token(self, token_id: str, code: int, reason: str) -> None:
        """End the feeds of every client using `token_id`."""
        for subscription in self._subscriptions:
            if subscription.token_id == token_id:
                subscription.close(code, reason)

    def close_all(self, code: int, reason: str) -> None:
        """End every feed (hub shutting down)."""
        for subscription in self._subscriptions:
            subscription.close(code, reason)

    async def record(self, doorbell: Doorbell, device_event: DeviceEvent) -> Recorded | None:
        """Store a device event, then publish it. None if it was a repeat already stored.

        Presses from every doorbell share one group commit: none waits behind another's `fsync`.
        The event is published once its batch is durable, by the store's callback, which runs in
        commit order, so subscribers get events in seq order.
        """
        result = await self._store.record_event(
            doorbell_id=doorbell.id,
            event_type=device_event.type,
            time=time.time(),
            device_time=device_event.device_time,
            device_key=device_event.key,
            cursor=device_event.cursor,
            merge_seconds=self._merge_seconds,
            button=device_event.button,
            on_durable=self._publish_stored,
        )
        doorbell.cursor = device_event.cursor
        if result is None:
            return None
        event, merged = result
        if merged:
            _LOGGER.info(
                "Merged a repeated press",
                extra={"doorbell_id": doorbell.id, "seq": event.seq, "presses": event.presses},
            )
        return Recorded(event, merged)

    def _publish_stored(self, result: tuple[Event, bool] | None) -> None:
        """Publish a newly stored event (not a repeat, not a press merged into an earlier one)."""
        if result is not None and not result[1]:
            self.publish(messages.EventMessage(objects.Event.of(result[0])).to_dict())
