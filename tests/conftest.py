from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis

from tests.helpers import RedisServer

# The machine's Redis (127.0.0.1:6379). Tests use a database of their own and
# empty it first, so they never touch anything else and never see each other.
SHARED_REDIS = os.environ.get("HONUA_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


@pytest.fixture
def redis_url() -> Iterator[str]:
    client = redis.Redis.from_url(SHARED_REDIS)
    try:
        client.flushdb()
    except redis.ConnectionError as exc:  # pragma: no cover - environment problem, say so loudly
        pytest.fail(f"Redis is not reachable at {SHARED_REDIS}: {exc}")
    yield SHARED_REDIS
    client.flushdb()
    client.close()


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()
