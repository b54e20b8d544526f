"""Model events on a Redis channel, heard by every API process:

- ``<name>/<version>``: a worker registered this version just before its job reports
  `completed`; each API process loads it in the background, so that the first prediction does
  not pay the load (single-flight: a request arriving during the load waits for it);
- ``{"event": "deleted", "name", "version"}``: the version was deleted; each process drops it
  and the aliases that pointed at it, so none serves it again;
- ``{"event": "alias", "name", "alias"}``: an alias was set or removed; each process asks the
  registry where it points on its next use.

A listener that lost Redis revalidates its cache when it is back (it may have missed events)."""

from __future__ import annotations

import asyncio
import logging

import orjson
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


def announce_deleted(client: redis.Redis, channel: str, name: str, version: str) -> None:
    client.publish(channel, orjson.dumps({"event": "deleted", "name": name, "version": version}))


def announce_alias(client: redis.Redis, channel: str, name: str, alias: str) -> None:
    client.publish(channel, orjson.dumps({"event": "alias", "name": name, "alias": alias}))


class ModelEvents:
    def __init__(self, client: redis.asyncio.Redis, channel: str, cache: ModelCache) -> None:
        self._client = client
        self._channel = channel
        self._cache = cache

    async def run(self) -> None:
        """Import the model libraries, then listen until cancelled; reconnect after Redis comes
        back."""
        await to_thread.run_sync(import_model_libraries)
        missed = False
        while True:
            try:
                async with self._client.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    if missed:
                        await to_thread.run_sync(self._cache.revalidate)
                        missed = False
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            await self._handle(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis restarting: listen again shortly
                missed = True
                log.warning("serving.events.reconnecting", extra=fields(error=str(exc)[:200]))
                await asyncio.sleep(RECONNECT_SECONDS)

    async def _handle(self, data: bytes) -> None:
        if not data.startswith(b"{"):
            await self._warm(data.decode())
            return
        try:
            event = orjson.loads(data)
            if event.get("event") == "deleted":
                self._cache.evict(event["name"], event["version"])
            elif event.get("event") == "alias":
                self._cache.forget_alias(event["name"], event["alias"])
        except (ValueError, KeyError, AttributeError) as exc:  # not one of ours: ignore it
            log.warning("serving.events.unreadable", extra=fields(error=str(exc)[:200]))

    async def _warm(self, model: str) -> None:
        name, _, version = model.rpartition("/")
        try:
            await to_thread.run_sync(self._cache.get, ModelRef(name, version))
            log.info("serving.model.warmed", extra=fields(model=model))
        except Exception as exc:  # the first request will load it (and say what is wrong)
            log.warning("serving.model.warm_failed", extra=fields(model=model, error=str(exc)))
