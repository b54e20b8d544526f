"""ModelCache's single flight and LRU, with a loader made of plain data (pure logic)."""

import threading
import time

from modeltrain.registry.model_ids import ModelRef
from modeltrain.serving.cache import LoadedModel, ModelCache


def _slow_loader(calls: list):
    def load(_client, name, version):
        calls.append((name, version))
        time.sleep(0.2)
        return LoadedModel(name, version, None, None, [], 0.2)

    return load


def test_concurrent_first_requests_for_one_version_load_it_once():
    calls: list = []
    cache = ModelCache(client=None, max_size=4, loader=_slow_loader(calls))
    got: list = []
    threads = [
        threading.Thread(target=lambda: got.append(cache.get(ModelRef("m", "1")))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [("m", "1")]
    assert len({id(model) for model in got}) == 1
    assert cache.loads == 1


def test_the_least_recently_used_version_is_dropped_past_the_size():
    calls: list = []
    cache = ModelCache(client=None, max_size=2, loader=_slow_loader(calls))
    for version in ("1", "2", "1", "3", "1", "2"):
        cache.get(ModelRef("m", version))
    assert calls == [("m", "1"), ("m", "2"), ("m", "3"), ("m", "2")]
    assert cache.peek(ModelRef("m", "1")) is not None
    assert cache.peek(ModelRef("m", "3")) is None
