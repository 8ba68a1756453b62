import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {capplanInterrupted, liveProcesses} from '../../../../src/engines/spawned/process.js'
import {SpawnedServer} from '../../../../src/engines/spawned/server.js'
import type {EngineInfo, StreamEvent} from '../../../../src/engines/types.js'
import {CapplanError} from '../../../../src/lib/errors.js'

/**
 * Ctrl-C / SIGTERM while a spawned server is still loading (GET /health 503): the wait ends at once, the server
 * is stopped, and start() fails as INTERRUPTED (exit 130), not as a server that "exited before it was ready"
 * (ENGINE_FAILURE, exit 8, blaming the model file). Its own file: capplan's interruption is once per process.
 * The signal is delivered with process.emit, with a listener of the test's own standing in for bench's handler
 * (process.ts then leaves the exit to it, as it does for bench).
 */
const dir = mkdtempSync(join(tmpdir(), 'capplan-spawned-interrupt-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

/** Loads forever: /health answers 503; ignores SIGTERM for 1 s (a server busy loading), then exits by it. */
const loading = join(dir, 'loading.js')
writeFileSync(
  loading,
  `const {createServer} = require('node:http')
const port = Number(process.argv[2])
process.on('SIGTERM', () => setTimeout(() => process.exit(143), 1000))
console.error('loading model ...')
createServer((req, res) => res.writeHead(503).end('{"error":"Loading model"}')).listen(port, '127.0.0.1')
`,
)

class LoadingServer extends SpawnedServer {
  constructor() {
    super(
      {
        kind: 'llamacpp',
        name: 'stand-in',
        bin: 'stand-in',
        startupTimeoutMs: 60_000,
        healthPollMs: 100,
        stopGraceMs: 3000,
        portTaken: /couldn't bind/,
        exitedAdvice: '; check the model file (-m) and the flags.',
        startupAdvice: '',
      },
      {logFile: join(dir, 'loading.log')},
    )
  }

  async start(): Promise<void> {
    await this.launch(process.execPath)
  }

  protected serverArgs(port: number): string[] {
    return [loading, String(port)]
  }

  info(): EngineInfo {
    throw this.usedBeforeStart()
  }

  async *stream(): AsyncGenerator<StreamEvent> {
    throw this.usedBeforeStart()
  }
}

describe('an interruption while a spawned server starts', () => {
  it('ends the health wait at once: the server is stopped and start() fails INTERRUPTED (130), not ENGINE_FAILURE', async () => {
    const engine = new LoadingServer()
    const started = engine.start().then(
      () => null,
      (error: unknown) => error,
    )
    // Let it spawn and answer 503 a few times.
    await new Promise((resolve) => setTimeout(resolve, 700))
    expect(engine.pid).not.toBeNull()
    const benchHandler = () => {}
    process.on('SIGINT', benchHandler)
    const at = performance.now()
    try {
      process.emit('SIGINT', 'SIGINT')
      const error = await started
      expect(error).toBeInstanceOf(CapplanError)
      expect((error as CapplanError).kind).toBe('INTERRUPTED')
      expect((error as CapplanError).exitCode).toBe(130)
      expect((error as CapplanError).message).toBe('Interrupted while stand-in was starting; it was stopped before it was ready.')
      expect((error as CapplanError).message).not.toMatch(/model file/)
      // The wait ended at the signal; stop() then gave the server its SIGTERM grace (it exits 1 s after it).
      expect(performance.now() - at).toBeLessThan(2500)
    } finally {
      process.off('SIGINT', benchHandler)
    }
    expect(capplanInterrupted().aborted).toBe(true)
    expect(capplanInterrupted().reason).toBe('SIGINT')
    expect(engine.pid).toBeNull()
    expect(liveProcesses()).toEqual([])
  })
})
