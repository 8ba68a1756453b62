import {chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterAll, describe, expect, it} from 'vitest'

import {LlamaCppEngine} from '../../../../src/engines/llamacpp/engine.js'
import {bindHostArg, clientHostFor, isLoopbackHost, liveProcesses, readLogTail} from '../../../../src/engines/spawned/process.js'
import type {StreamEvent} from '../../../../src/engines/types.js'

/**
 * --host and exited() of the llamacpp engine, with a stand-in llama-server (a Node script; its --help /
 * --version / --list-devices answers are the real ones from test/fixtures/llama-server-cli) that binds the
 * --host it is given and, on POST /completion, sends one SSE event and then kills itself with SIGKILL: a
 * server dying mid-stream. The real server is killed in test/integration/server-death.test.ts.
 */

const dir = mkdtempSync(join(tmpdir(), 'capplan-host-exit-'))
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

describe('bind and client addresses', () => {
  it('loopback addresses are 127.0.0.0/8, ::1 and localhost; wildcards and others are not', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) expect(isLoopbackHost(host)).toBe(true)
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'example.com', '128.0.0.1']) expect(isLoopbackHost(host)).toBe(false)
  })

  it('a client reaches a wildcard bind on 127.0.0.1, an IPv6 address in brackets, anything else as given', () => {
    expect(clientHostFor('0.0.0.0')).toBe('127.0.0.1')
    expect(clientHostFor('::')).toBe('127.0.0.1')
    expect(clientHostFor('[::]')).toBe('127.0.0.1')
    expect(clientHostFor('::1')).toBe('[::1]')
    expect(clientHostFor('10.0.0.5')).toBe('10.0.0.5')
    expect(bindHostArg('[::1]')).toBe('::1')
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
