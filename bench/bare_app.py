"""The framework's limit, for comparison: a bare Starlette app that appends multipart chunks to
Redis and answers a status read with one Redis GET. Run: uvicorn bench.bare_app:app"""

from __future__ import annotations

import os

import orjson
import redis.asyncio as aioredis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_redis = aioredis.Redis.from_url(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))


async def upload(request: Request) -> Response:
    form = await request.form()
    data = await form["chunk"].read()
    key = f"bare:upload:{form['uploadId']}"
    size = await _redis.append(key, data)
    body = {"uploadId": form["uploadId"], "chunkIndex": int(form["chunkIndex"]), "bytes": size}
    return Response(orjson.dumps(body), media_type="application/json")


async def status(request: Request) -> Response:
    raw = await _redis.get(f"bare:status:{request.path_params['job_id']}")
    return Response(raw or b"{}", media_type="application/json")


app = Starlette(
    routes=[Route("/upload", upload, methods=["POST"]), Route("/status/{job_id}", status)]
)
