import {chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterAll, describe, expect, it} from 'vitest'

import {backendOf, LlamaCppEngine, llamaServerArgs, type LlamaServerCapabilities, parseCapabilities, serverApiKey} from '../../../../src/engines/llamacpp/engine.js'
import {groupAlive, liveProcesses} from '../../../../src/engines/spawned/process.js'
import {CapplanError, EngineError} from '../../../../src/lib/errors.js'

/** llama-server's command line, built from what the real binary says about itself (test/fixtures/llama-server-cli). */

const cli = (name: string) => readFileSync(fileURLToPath(new URL(`../../../fixtures/llama-server-cli/${name}`, import.meta.url)), 'utf8')

describe('parseCapabilities (real llama-server output)', () => {
  it('reads version, -fa syntax, the UI switch, repack switch and devices of the CPU build', () => {
    const caps = parseCapabilities(cli('help.txt'), cli('version.txt'), cli('list_devices.txt'))
    expect(caps).toEqual({
      // version.txt: "version: 0.5.0-dev (build 1, commit de3ff81)"
      version: '0.5.0-dev (build 1, commit de3ff81)',
      // help.txt: "-fa,   --flash-attn [on|off|auto]"
      flashAttention: 'values',
      // help.txt: "--ui,  --webui, --no-ui, --no-webui"
      noUiFlag: '--no-ui',
      // list_devices.txt: "Available devices:\n  (none)"
      devices: [],
      noRepack: true,
    })
    expect(backendOf(caps.devices)).toBe('cpu')
  })

  it('older builds: a bare -fa switch, only --no-webui; GPU devices in llama.cpp\'s "  NAME: desc (MiB)" format', () => {
    const help = '-fa,   --flash-attn                     enable Flash Attention (default: disabled)\n--no-webui   Disable the Web UI\n'
    // Format printed by common/arg.cpp --list-devices: "  %s: %s (%zu MiB, %zu MiB free)".
    const devices = 'Available devices:\n  CUDA0: NVIDIA H100 80GB HBM3 (81079 MiB, 80520 MiB free)\n  CUDA1: NVIDIA H100 80GB HBM3 (81079 MiB, 80520 MiB free)\n'
    const caps = parseCapabilities(help, 'version: 6845 (0c3a2f1)\nbuilt with cc', devices)
    expect(caps).toEqual({version: '6845 (0c3a2f1)', flashAttention: 'switch', noUiFlag: '--no-webui', devices: ['CUDA0', 'CUDA1'], noRepack: false})
    expect(backendOf(caps.devices)).toBe('cuda')
    expect(backendOf(['Vulkan0'])).toBe('vulkan')
    expect(backendOf(['Metal'])).toBe('metal')
  })
})

describe('llamaServerArgs', () => {
  const caps: LlamaServerCapabilities = {version: 'x', flashAttention: 'values', noUiFlag: '--no-ui', devices: [], noRepack: true}
  const base = {
    modelPath: '/m/q.gguf',
    host: '127.0.0.1',
    port: 8089,
    // 4 slots x (512 in + 128 out + 16 margin) = 2624
    contextSize: 4 * (512 + 128 + 16),
    slots: 4,
    threads: 2,
    gpuLayers: 0,
    flashAttention: 'auto' as const,
    capabilities: caps,
    extraArgs: [],
  }

  it('puts every flag in an argument array, in order, user extras last', () => {
    expect(llamaServerArgs({...base, extraArgs: ['-b', '2048', '-np', '8']})).toEqual([
      '-m',
      '/m/q.gguf',
      '--host',
      '127.0.0.1',
      '--port',
      '8089',
      '-c',
      '2624',
      '-np',
      '4',
      '--metrics',
      '-t',
      '2',
      '-ngl',
      '0',
      '-fa',
      'auto',
      '--no-ui',
      '-b',
      '2048',
      '-np',
      '8',
    ])
  })

  it('adapts to the binary: no -t when threads are left to the server, bare -fa only for "on", --no-repack when asked', () => {
    const old = {...caps, flashAttention: 'switch' as const, noUiFlag: null, noRepack: false}
    expect(llamaServerArgs({...base, threads: null, gpuLayers: 99, flashAttention: 'on', capabilities: old})).toEqual([
      '-m',
      '/m/q.gguf',
      '--host',
      '127.0.0.1',
      '--port',
      '8089',
      '-c',
      '2624',
      '-np',
      '4',
      '--metrics',
      '-ngl',
      '99',
      '-fa',
    ])
    expect(llamaServerArgs({...base, flashAttention: 'auto', capabilities: old})).not.toContain('-fa')
    expect(llamaServerArgs({...base, noRepack: true}).slice(-1)).toEqual(['--no-repack'])
    // A binary without the switch never gets it.
    expect(llamaServerArgs({...base, noRepack: true, capabilities: old})).not.toContain('--no-repack')
  })
})

/**
 * The key capplan's client must send to a llama-server it started with a key (llama.cpp's rules, from the real
 * --help: "--api-key KEY ... multiple keys can be provided as a comma-separated list (env: LLAMA_API_KEY)",
 * "--api-key-file FNAME ... one per line; lines starting with a hash are treated as comments").
 */
describe('serverApiKey', () => {
  const noFile = (file: string): string => {
    throw new Error(`no file expected, got ${file}`)
  }

  it('none: no flag, no environment variable', () => {
    expect(serverApiKey(['--mlock', '-ub', '512'], {}, noFile)).toBeNull()
  })

  it('--api-key KEY and --api-key=KEY; the first of a comma-separated list', () => {
    expect(serverApiKey(['--mlock', '--api-key', 'k-one'], {}, noFile)).toBe('k-one')
    expect(serverApiKey(['--api-key=k-two'], {}, noFile)).toBe('k-two')
    expect(serverApiKey(['--api-key', ',k-a, k-b'], {}, noFile)).toBe('k-a')
    // A value that looks like a flag is still the value (llama.cpp takes the next word).
    expect(serverApiKey(['--api-key', '-dash'], {}, noFile)).toBe('-dash')
  })

  it('--api-key-file FILE: the first line that is neither empty nor a # comment (CRLF tolerated)', () => {
    const files: Record<string, string> = {'/keys.txt': '# rotated weekly\r\n\r\nk-file-1\r\nk-file-2\r\n'}
    expect(serverApiKey(['--api-key-file', '/keys.txt'], {}, (file) => files[file]!)).toBe('k-file-1')
    expect(serverApiKey(['--api-key-file=/keys.txt'], {}, (file) => files[file]!)).toBe('k-file-1')
    // Only comments: llama-server then starts without a key.
    expect(serverApiKey(['--api-key-file', '/c'], {}, () => '# nothing\n')).toBeNull()
  })

  it('the environment llama-server inherits counts only when the flag is absent', () => {
    expect(serverApiKey([], {LLAMA_API_KEY: 'k-env'}, noFile)).toBe('k-env')
    expect(serverApiKey(['--api-key', 'k-flag'], {LLAMA_API_KEY: 'k-env'}, noFile)).toBe('k-flag')
    expect(serverApiKey([], {LLAMA_ARG_API_KEY_FILE: '/f'}, () => 'k-env-file\n')).toBe('k-env-file')
  })

  it('a flag without its value, a missing or oversized key file: one error naming the flag or file, never a key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'capplan-keyfile-'))
    try {
      const errorOf = (fn: () => unknown) => {
        try {
          fn()
        } catch (error) {
          return error as CapplanError
        }
        throw new Error('expected an error')
      }
      const noValue = errorOf(() => serverApiKey(['--api-key'], {}, noFile))
      expect(noValue).toBeInstanceOf(CapplanError)
      expect([noValue.kind, noValue.message]).toEqual(['INVALID_INPUT', 'The engine argument --api-key (after --) has no value.'])
      const missing = errorOf(() => serverApiKey(['--api-key-file', join(dir, 'absent.txt')]))
      expect([missing.kind, missing.exitCode]).toEqual(['NOT_FOUND', 4])
      expect(missing.message).toBe(`--api-key-file ${join(dir, 'absent.txt')} (an engine argument after --) does not exist.`)
      const big = join(dir, 'big.txt')
      writeFileSync(big, `secret-${'x'.repeat(1024 * 1024)}`)
      const tooBig = errorOf(() => serverApiKey(['--api-key-file', big]))
      expect(tooBig.kind).toBe('INVALID_INPUT')
      // 7 + 1048576 bytes
      expect(tooBig.message).toBe(`--api-key-file ${big} is 1048583 bytes: too large for a key file.`)
      const real = join(dir, 'keys.txt')
      writeFileSync(real, 'k-real\n')
      expect(serverApiKey(['--api-key-file', real], {})).toBe('k-real')
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})

describe('LlamaCppEngine options', () => {
  it('rejects impossible sizes with INVALID_INPUT before spawning anything', () => {
    const make = (over: Partial<ConstructorParameters<typeof LlamaCppEngine>[0]>) => () =>
      new LlamaCppEngine({modelPath: '/m', threads: 2, maxConcurrency: 1, tokensPerSequence: 64, logFile: '/tmp/x.log', ...over})
    for (const bad of [{maxConcurrency: 0}, {tokensPerSequence: 1.5}, {threads: 0}, {gpuLayers: -1}]) {
      const error = (() => {
        try {
          make(bad)()
          return null
        } catch (e) {
          return e
        }
      })()
      expect(error).toBeInstanceOf(CapplanError)
      expect((error as CapplanError).exitCode).toBe(3)
    }
  })

  it('info() before start() is a clear ENGINE_FAILURE, stream() yields an engine error event', async () => {
    const engine = new LlamaCppEngine({modelPath: '/m', threads: 2, maxConcurrency: 1, tokensPerSequence: 64, logFile: '/tmp/x.log'})
    expect(() => engine.info()).toThrow(/before start/)
    const events = []
    for await (const e of engine.stream({promptTokens: [1], promptText: null, maxTokens: 1, ignoreEos: true}, new AbortController().signal)) events.push(e)
    expect(events).toEqual([{kind: 'error', errorKind: 'engine', message: 'The llamacpp engine was used before start() (or after stop()).'}])
    await engine.stop() // safe on an engine that never started
  })
})

/**
 * LlamaCppEngine.start()'s failure paths, with a stand-in server binary (a Node script) whose behaviour each
 * test picks: crash with SIGSEGV unless --no-repack (the AMX crash seen on this machine), stay at 503
 * "Loading model" forever, or exit at once. Its --help/--version/--list-devices answers are the REAL ones
 * (test/fixtures/llama-server-cli). Fault injection only; the real server is tested in test/integration.
 */

const dir = mkdtempSync(join(tmpdir(), 'capplan-fake-server-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))
const cliDir = fileURLToPath(new URL('../../../fixtures/llama-server-cli/', import.meta.url))

function fakeServer(behaviour: 'segv-unless-no-repack' | 'loading-forever' | 'exit-2'): string {
  const file = join(dir, `llama-server-${behaviour}`)
  writeFileSync(
    file,
    `#!/usr/bin/env node
const {readFileSync} = require('node:fs')
const {createServer} = require('node:http')
const args = process.argv.slice(2)
const cli = (name) => process.stdout.write(readFileSync(${JSON.stringify(cliDir)} + name))
if (args[0] === '--help') { cli('help.txt'); process.exit(0) }
if (args[0] === '--version') { cli('version.txt'); process.exit(0) }
if (args[0] === '--list-devices') { cli('list_devices.txt'); process.exit(0) }
console.error('fake llama-server: args ' + args.join(' '))
console.error('fake pid ' + process.pid)
const behaviour = ${JSON.stringify(behaviour)}
if (behaviour === 'exit-2') { console.error('error: failed to load model'); process.exit(2) }
if (behaviour === 'segv-unless-no-repack' && !args.includes('--no-repack')) { console.error('load_model: loading'); process.kill(process.pid, 'SIGSEGV') }
const port = Number(args[args.indexOf('--port') + 1])
createServer((req, res) => {
  if (req.url === '/health' && behaviour === 'loading-forever') { res.writeHead(503); res.end('{"error":{"code":503,"message":"Loading model"}}'); return }
  if (req.url === '/health') { res.end('{"status":"ok"}'); return }
  if (req.url === '/props') { res.end(JSON.stringify({build_info: 'b0-fake', total_slots: Number(args[args.indexOf('-np') + 1]), default_generation_settings: {n_ctx: 64}})); return }
  res.writeHead(404); res.end()
}).listen(port, '127.0.0.1')
`,
  )
  chmodSync(file, 0o755)
  return file
}

const options = (serverBin: string, name: string) => ({
  modelPath: '/models/m.gguf',
  serverBin,
  threads: 1,
  maxConcurrency: 2,
  tokensPerSequence: 32,
  logFile: join(dir, `${name}.log`),
  startupTimeoutMs: 20_000,
})

describe('LlamaCppEngine.start with a stand-in server', () => {
  it('retries once with --no-repack after a SIGSEGV while loading, says so, and records the flag', async () => {
    const notes: string[] = []
    const engine = new LlamaCppEngine({...options(fakeServer('segv-unless-no-repack'), 'segv'), onNote: (note) => notes.push(note)})
    await engine.start()
    try {
      expect(notes).toHaveLength(1)
      expect(notes[0]).toContain('retrying with --no-repack')
      const info = engine.info()
      expect(info.args.slice(-2)).toEqual(['--no-ui', '--no-repack'])
      // -c = 2 slots x 32 tokens
      expect(info.args).toEqual(expect.arrayContaining(['-c', '64', '-np', '2']))
      expect(info.build).toBe('b0-fake')
      expect(info.version).toBe('0.5.0-dev (build 1, commit de3ff81)')
    } finally {
      await engine.stop()
    }
    expect(liveProcesses()).toEqual([])
  })

  it('a server stuck at 503 past the startup timeout -> EngineError with its log lines, and it is killed', async () => {
    const engine = new LlamaCppEngine({...options(fakeServer('loading-forever'), 'loading'), startupTimeoutMs: 1500})
    const error = await engine.start().then(
      () => null,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(EngineError)
    expect((error as EngineError).message).toMatch(/^llama-server was not ready within 2 s \(GET \/health never answered 200\)\./)
    expect((error as EngineError).logTail.some((line) => line.startsWith('fake llama-server: args -m /models/m.gguf'))).toBe(true)
    expect(liveProcesses()).toEqual([])
    const pid = Number(readFileSync(join(dir, 'loading.log'), 'utf8').match(/fake pid (\d+)/)![1])
    expect(groupAlive(pid)).toBe(false)
  })

  it('a server that exits with an error -> EngineError with exit code and last log lines', async () => {
    const engine = new LlamaCppEngine(options(fakeServer('exit-2'), 'exit'))
    const error = (await engine.start().then(
      () => null,
      (e: unknown) => e,
    )) as EngineError
    expect(error).toBeInstanceOf(EngineError)
    expect(error.message).toMatch(/^llama-server exited before it was ready \(exit code 2\)\./)
    expect(error.logTail.at(-1)).toBe('error: failed to load model')
    expect(error.exitCode).toBe(8)
  })
})
