import {chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterAll, describe, expect, it} from 'vitest'

import {LlamaCppEngine} from '../../../../src/engines/llamacpp/engine.js'
import type {WireProtocol} from '../../../../src/engines/http/protocols.js'
import {type ExitStatus, liveProcesses, readLogTail} from '../../../../src/engines/spawned/process.js'
import {SpawnedServer} from '../../../../src/engines/spawned/server.js'
import type {EngineInfo, GenRequest, StreamEvent} from '../../../../src/engines/types.js'
import {EngineError} from '../../../../src/lib/errors.js'

/**
 * The lifecycle SpawnedServer gives llama-server and vLLM: a minimal engine on a stand-in server (a Node
 * script whose first start attempts can fail on purpose) for the port retry, the start failures, abandon()
 * and the API key; then --host and exited() of the llamacpp engine, with a stand-in llama-server (a Node script; its --help /
 * --version / --list-devices answers are the real ones from test/fixtures/llama-server-cli) that binds the
 * --host it is given and, on POST /completion, sends one SSE event and then kills itself with SIGKILL: a
 * server dying mid-stream. The real server is killed in test/integration/server-death.test.ts.
 */

const dir = mkdtempSync(join(tmpdir(), 'capplan-spawned-server-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))
const cliDir = fileURLToPath(new URL('../../../fixtures/llama-server-cli/', import.meta.url))

const fakeServer = join(dir, 'llama-server')
writeFileSync(
  fakeServer,
  `#!/usr/bin/env node
const {readFileSync} = require('node:fs')
const {createServer} = require('node:http')
const args = process.argv.slice(2)
const cli = (name) => process.stdout.write(readFileSync(${JSON.stringify(cliDir)} + name))
if (args[0] === '--help') { cli('help.txt'); process.exit(0) }
if (args[0] === '--version') { cli('version.txt'); process.exit(0) }
if (args[0] === '--list-devices') { cli('list_devices.txt'); process.exit(0) }
const host = args[args.indexOf('--host') + 1]
const port = Number(args[args.indexOf('--port') + 1])
createServer((req, res) => {
  if (req.url === '/health') { res.end('{"status":"ok"}'); return }
  if (req.url === '/props') { res.end(JSON.stringify({build_info: 'b0-fake', total_slots: Number(args[args.indexOf('-np') + 1])})); return }
  if (req.url === '/completion') {
    res.writeHead(200, {'content-type': 'text/event-stream'})
    res.write('data: {"content":"a","tokens":[11],"stop":false}\\n\\n', () => {
      console.error('fake llama-server: dying mid-stream')
      setTimeout(() => process.kill(process.pid, 'SIGKILL'), 20)
    })
    return
  }
  res.writeHead(404); res.end()
}).listen(port, host, () => console.error('fake llama-server: listening on ' + host + ':' + port))
`,
)
chmodSync(fakeServer, 0o755)

const engineWith = (name: string, host?: string) =>
  new LlamaCppEngine({
    modelPath: '/models/m.gguf',
    serverBin: fakeServer,
    threads: 1,
    maxConcurrency: 1,
    tokensPerSequence: 32,
    logFile: join(dir, `${name}.log`),
    startupTimeoutMs: 20_000,
    ...(host === undefined ? {} : {host}),
  })

async function collect(events: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const all: StreamEvent[] = []
  for await (const event of events) all.push(event)
  return all
}

const request = {promptTokens: [11, 12, 13], promptText: null, maxTokens: 8, ignoreEos: true as const}

/**
 * A stand-in server: `node stand-in.js PORT MODE`. MODE port-taken prints what llama-server says when the port
 * is gone and exits 1; crash exits by SIGSEGV; never-ready answers /health 503; ready serves /health (logging
 * its authorization header) and POST /completion (one SSE event, then the final one).
 */
const standIn = join(dir, 'stand-in.js')
writeFileSync(
  standIn,
  `const {createServer} = require('node:http')
const [port, mode] = process.argv.slice(2)
if (mode === 'port-taken') { console.error("couldn't bind HTTP server socket, hostname: 127.0.0.1, port: " + port); process.exit(1) }
if (mode === 'crash') process.kill(process.pid, 'SIGSEGV')
createServer((req, res) => {
  if (req.url === '/health') {
    console.error('health authorization=' + (req.headers.authorization ?? 'none'))
    res.writeHead(mode === 'never-ready' ? 503 : 200).end()
    return
  }
  res.writeHead(200, {'content-type': 'text/event-stream'})
  res.end('data: {"content":"a","tokens":[11],"stop":false}\\n\\ndata: {"content":"","tokens":[],"stop":true,"tokens_predicted":1,"tokens_evaluated":3}\\n\\n')
}).listen(Number(port), '127.0.0.1')
`,
)

/** A SpawnedServer with nothing of its own: each start attempt runs the stand-in in the next mode of `modes`. */
class StandInServer extends SpawnedServer {
  readonly ports: number[] = []
  readonly retriedAfter: (ExitStatus | null)[] = []
  private readonly retryCrash: boolean

  constructor(
    private readonly modes: string[],
    options: {logFile?: string; startupTimeoutMs?: number; apiKey?: string; retryCrash?: boolean} = {},
  ) {
    super(
      {
        kind: 'llamacpp',
        name: 'stand-in',
        bin: 'stand-in',
        startupTimeoutMs: 20_000,
        healthPollMs: 50,
        stopGraceMs: 2000,
        portTaken: /couldn't bind/,
        exitedAdvice: '; (exited advice)',
        startupAdvice: ' (startup advice)',
      },
      {...(options.logFile === undefined ? {} : {logFile: options.logFile}), ...(options.startupTimeoutMs === undefined ? {} : {startupTimeoutMs: options.startupTimeoutMs})},
    )
    this.apiKey = options.apiKey ?? null
    this.retryCrash = options.retryCrash ?? false
  }

  async start(): Promise<void> {
    await this.launch(process.execPath)
  }

  protected serverArgs(port: number): string[] {
    this.ports.push(port)
    return [standIn, String(port), this.modes[this.ports.length - 1] ?? 'ready', '--api-key', 'sk-standin-secret-1']
  }

  protected override retryAfterExit(exit: ExitStatus | null): boolean {
    this.retriedAfter.push(exit)
    return this.retryCrash && this.retriedAfter.length === 1
  }

  info(): EngineInfo {
    if (this.endpoint === null) throw this.usedBeforeStart()
    return {kind: 'llamacpp', version: null, build: null, backend: 'cpu', threads: null, gpuCount: 0, args: this.commandLine(), endpoint: this.endpoint}
  }

  stream(request: GenRequest, signal: AbortSignal): AsyncGenerator<StreamEvent> {
    const protocol: WireProtocol = 'llamacpp-completion'
    return this.serverStream(protocol, {prompt: request.promptTokens, n_predict: request.maxTokens}, signal)
  }

  /** abandon() as an engine uses it after a failed check of a server that is up. */
  async failCheck(): Promise<EngineError> {
    return this.abandon('the stand-in failed a check.', 'Read the log.')
  }
}

const startError = (engine: SpawnedServer) =>
  engine.start().then(
    () => null,
    (error: unknown) => error as EngineError,
  )

describe('SpawnedServer', () => {
  it('before start(): no pid, no exit, a clear error from info() and stream(); stop() is safe; the log defaults to a temp file', async () => {
    const engine = new StandInServer([])
    expect(engine.pid).toBeNull()
    expect(engine.exited()).toBeNull()
    expect(() => engine.info()).toThrow('The llamacpp engine was used before start().')
    expect(await collect(engine.stream(request, new AbortController().signal))).toEqual([
      {kind: 'error', errorKind: 'engine', message: 'The llamacpp engine was used before start() (or after stop()).'},
    ])
    await engine.stop()
    expect(engine.logFile).toMatch(/capplan-stand-in-[^/]+\/stand-in\.log$/)
  })

  it('a port taken before the bind is retried on a new port (3 attempts at most), then it is an exit with the log tail', async () => {
    const retried = new StandInServer(['port-taken', 'port-taken', 'ready'], {logFile: join(dir, 'retried.log')})
    await retried.start()
    try {
      expect(retried.ports).toHaveLength(3)
      expect(retried.info().endpoint).toBe(`http://127.0.0.1:${retried.ports[2]}`)
      expect(retried.retriedAfter).toEqual([]) // a taken port is not the engine's to judge
      expect(await collect(retried.stream(request, new AbortController().signal))).toEqual([
        expect.objectContaining({kind: 'content', tokens: 1, text: 'a'}),
        {kind: 'usage', promptTokens: 3, completionTokens: 1},
      ])
    } finally {
      await retried.stop()
    }
    const taken = new StandInServer(['port-taken', 'port-taken', 'port-taken', 'ready'], {logFile: join(dir, 'taken.log')})
    const error = await startError(taken)
    expect(taken.ports).toHaveLength(3)
    expect(error).toBeInstanceOf(EngineError)
    expect(error!.message).toMatch(/^stand-in exited before it was ready \(exit code 1\)\.\nLast lines from /)
    expect(error!.suggestion).toBe(`Read the log lines below (full log: ${taken.logFile}); (exited advice)`)
    expect(error!.logTail?.at(-1)).toMatch(/^couldn't bind HTTP server socket/)
    expect(taken.pid).toBeNull()
    expect(liveProcesses()).toEqual([])
  })

  it("an exit the engine's retryAfterExit accepts is started again; one it refuses fails with the exit", async () => {
    const retried = new StandInServer(['crash', 'ready'], {logFile: join(dir, 'crash-retried.log'), retryCrash: true})
    await retried.start()
    await retried.stop()
    expect(retried.retriedAfter).toEqual([{code: null, signal: 'SIGSEGV'}])
    const crashed = new StandInServer(['crash'], {logFile: join(dir, 'crashed.log')})
    const error = await startError(crashed)
    expect(crashed.retriedAfter).toEqual([{code: null, signal: 'SIGSEGV'}])
    expect(error!.message).toMatch(/^stand-in exited before it was ready \(signal SIGSEGV\)\./)
  })

  it('a server that never answers /health 200 is stopped at the startup timeout; the command shown is redacted', async () => {
    const engine = new StandInServer(['never-ready'], {logFile: join(dir, 'never-ready.log'), startupTimeoutMs: 1500})
    const error = await startError(engine)
    expect(error!.message).toMatch(/^stand-in was not ready within 2 s \(GET \/health never answered 200\)\./)
    expect(error!.suggestion).toBe(`Raise --startup-timeout (startup advice), or read the log (${engine.logFile}).`)
    expect(error!.command).toBe(`${process.execPath} ${standIn} ${engine.ports[0]} never-ready --api-key ***`)
    expect(error!.logTail?.at(-1)).toBe('health authorization=none')
    expect(engine.pid).toBeNull()
    expect(liveProcesses()).toEqual([])
  })

  it('sends the API key on /health and requests (requestHeaders); abandon() stops the server and carries the log tail', async () => {
    const engine = new StandInServer(['ready'], {logFile: join(dir, 'key.log'), apiKey: 'sk-standin-secret-1'})
    await engine.start()
    expect(engine.requestHeaders()).toEqual({authorization: 'Bearer sk-standin-secret-1'})
    expect(engine.info().args).toEqual([process.execPath, standIn, String(engine.ports[0]), 'ready', '--api-key', '***'])
    const error = await engine.failCheck()
    expect(error).toBeInstanceOf(EngineError)
    expect(error.message).toMatch(/^the stand-in failed a check\.\nLast lines from /)
    expect(readFileSync(engine.logFile, 'utf8')).toContain('health authorization=Bearer sk-standin-secret-1')
    expect(error.logTail).toContain('health authorization=Bearer ***')
    expect(engine.pid).toBeNull()
    // stop() was the engine's own: no death to report.
    expect(engine.exited()).toBeNull()
    expect(liveProcesses()).toEqual([])
    expect(new StandInServer([]).requestHeaders()).toEqual({})
  })
})

describe('LlamaCppEngine --host and exited() with a stand-in server', () => {
  it('binds 127.0.0.1 by default; --host 0.0.0.0 is passed to the server and the client uses 127.0.0.1', async () => {
    const plain = engineWith('default')
    await plain.start()
    try {
      const args = plain.info().args
      expect(args[args.indexOf('--host') + 1]).toBe('127.0.0.1')
      expect(plain.info().endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    } finally {
      await plain.stop()
    }
    const wide = engineWith('wide', '0.0.0.0')
    await wide.start()
    try {
      const info = wide.info()
      expect(info.args[info.args.indexOf('--host') + 1]).toBe('0.0.0.0')
      const port = info.args[info.args.indexOf('--port') + 1]
      expect(info.endpoint).toBe(`http://127.0.0.1:${port}`)
      expect(readFileSync(wide.logFile, 'utf8')).toContain(`listening on 0.0.0.0:${port}`)
      // start() only returns once GET /health answered 200 through that endpoint.
      expect(wide.exited()).toBeNull()
    } finally {
      await wide.stop()
    }
    expect(liveProcesses()).toEqual([])
  })

  it('a server dying mid-stream fails the request as an engine error; exited() reports it with the log tail until stop()', async () => {
    const engine = engineWith('dies')
    await engine.start()
    try {
      const events = await collect(engine.stream(request, new AbortController().signal))
      expect(events[0]).toMatchObject({kind: 'content', tokens: 1})
      const last = events.at(-1)!
      expect(last.kind).toBe('error')
      // The connection reset is attributed to the death (not a generic "dropped"), the client's reason kept.
      expect(last).toMatchObject({kind: 'error', errorKind: 'engine'})
      expect((last as {message: string}).message).toBe(
        'llama-server exited (signal SIGKILL): The connection closed before the final event (stop: true), after 1 content event(s).',
      )
      const exit = engine.exited()
      expect(exit).toEqual({description: 'llama-server exited (signal SIGKILL)', logFile: engine.logFile})
      expect((await readLogTail(exit!.logFile!, 5)).at(-1)).toBe('fake llama-server: dying mid-stream')
      // A request after the death fails at once, also as an engine error.
      const after = await collect(engine.stream(request, new AbortController().signal))
      expect(after).toHaveLength(1)
      expect(after[0]).toMatchObject({kind: 'error', errorKind: 'engine'})
    } finally {
      await engine.stop()
    }
    // stop() makes the exit intentional: nothing to report any more.
    expect(engine.exited()).toBeNull()
    expect(liveProcesses()).toEqual([])
  })
})
