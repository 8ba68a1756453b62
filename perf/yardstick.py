#!/usr/bin/python3
"""The ITL yardstick: a plain asyncio + aiohttp streaming client, timed the way vLLM's `bench serve` times
chunks (its async_request_openai_completions: iterate the body by lines, strip "data: ", json.loads the
chunk, take time.perf_counter() right after the parse when the chunk has text).

It runs `--streams` concurrent POST /v1/completions against perf/sse-source (started by loadgen-bench.ts with
--stamp-times) and prints ONE JSON object on stdout:

  {"streams": [{"clientMs": [...], "texts": [...]}, ...], "failed": N, "wallS": s, "cpuS": s}

clientMs: perf_counter in ms of each content chunk; texts: its text (the source's send stamp "t=<ms>").
loadgen-bench.ts turns both into the same |client gap - source gap| summary it computes for capplan.
Needs Debian's python3-aiohttp (3.8): run it with /usr/bin/python3.
"""

import argparse
import asyncio
import json
import sys
import time

import aiohttp


async def one_stream(session, url, max_tokens, index, out):
    body = {"model": "yardstick", "prompt": f"yardstick prompt {index}", "max_tokens": max_tokens, "stream": True}
    times, texts = [], []
    async with session.post(url, json=body) as response:
        if response.status != 200:
            await response.read()
            return False
        async for chunk_bytes in response.content:
            chunk_bytes = chunk_bytes.strip()
            if not chunk_bytes:
                continue
            chunk = chunk_bytes.decode("utf-8").removeprefix("data: ")
            if chunk == "[DONE]":
                continue
            data = json.loads(chunk)
            choices = data.get("choices")
            if choices:
                text = choices[0].get("text")
                timestamp = time.perf_counter()
                if text:
                    times.append(timestamp * 1000.0)
                    texts.append(text)
    out.append({"clientMs": times, "texts": texts})
    return True


async def level(url, streams, max_tokens, first_index, out):
    # One connection per stream, no pooled limit: as vLLM's client (limit=0 means no limit in aiohttp).
    timeout = aiohttp.ClientTimeout(total=600)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        results = await asyncio.gather(
            *(one_stream(session, url, max_tokens, first_index + i, out) for i in range(streams)), return_exceptions=True
        )
    return sum(1 for r in results if r is not True)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="the source's base URL, e.g. http://127.0.0.1:8123")
    parser.add_argument("--streams", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=100)
    parser.add_argument("--warmup-tokens", type=int, default=20)
    args = parser.parse_args()
    url = args.url.rstrip("/") + "/v1/completions"
    # Warm the connection and interpreter paths on a short level first (not measured), as loadgen-bench does.
    asyncio.run(level(url, args.streams, args.warmup_tokens, 0, []))
    out = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    failed = asyncio.run(level(url, args.streams, args.tokens, args.streams, out))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    json.dump({"streams": out, "failed": failed, "wallS": wall, "cpuS": cpu}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
