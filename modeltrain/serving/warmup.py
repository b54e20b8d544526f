"""Warming: a worker announces each newly registered version on a Redis channel just before its
job reports `completed`; every API process listening loads that version in the background, so
that the first prediction does not pay the load (single-flight: a request arriving during the
load waits for it instead of loading again)."""

from __future__ import annotations

import asyncio
import logging

import redis
import redis.asyncio
from anyio import to_thread

from modeltrain.logging import fields
from modeltrain.registry.model_ids import ModelRef
from modeltrain.serving.cache import ModelCache, import_model_libraries

log = logging.getLogger(__name__)

RECONNECT_SECONDS = 1.0


def announce_model(client: redis.Redis, channel: str, name: str, version: str) -> None:
    client.publish(channel, f"{name}/{version}")


class ModelWarmer:
    def __init__(self, client: redis.asyncio.Redis, channel: str, cache: ModelCache) -> None:
        self._client = client
        self._channel = channel
        self._cache = cache

    async def run(self) -> None:
        """Import the model libraries, then listen until cancelled; reconnect after Redis comes
        back."""
        await to_thread.run_sync(import_model_libraries)
        while True:
            try:
                async with self._client.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            await self._warm(message["data"].decode())
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis restarting: listen again shortly
                log.warning("serving.warmer.reconnecting", extra=fields(error=str(exc)[:200]))
                await asyncio.sleep(RECONNECT_SECONDS)

    async def _warm(self, model: str) -> None:
        name, _, version = model.rpartition("/")
        try:
            await to_thread.run_sync(self._cache.get, ModelRef(name, version))
            log.info("serving.model.warmed", extra=fields(model=model))
        except Exception as exc:  # the first request will load it (and say what is wrong)
            log.warning("serving.model.warm_failed", extra=fields(model=model, error=str(exc)))
