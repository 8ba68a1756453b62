#!/usr/bin/env node
// libuv's thread pool is created on first use; above 1 thread it cost ~15% decode speed for the
// embedded engine on a 2-core machine. Set it before anything can start the pool (hence dynamic import).
if (process.env.UV_THREADPOOL_SIZE === undefined) process.env.UV_THREADPOOL_SIZE = '1'
const {execute} = await import('@oclif/core')
await execute({dir: import.meta.url})
