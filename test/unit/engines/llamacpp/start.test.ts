import {chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterAll, describe, expect, it} from 'vitest'

import {LlamaCppEngine} from '../../../../src/engines/llamacpp/engine.js'
import {groupAlive, liveProcesses} from '../../../../src/engines/spawned/process.js'
import {EngineError} from '../../../../src/lib/errors.js'

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
    const error = await engine.start().then(() => null, (e: unknown) => e)
    expect(error).toBeInstanceOf(EngineError)
    expect((error as EngineError).message).toMatch(/^llama-server was not ready within 2 s \(GET \/health never answered 200\)\./)
    expect((error as EngineError).logTail.some((line) => line.startsWith('fake llama-server: args -m /models/m.gguf'))).toBe(true)
    expect(liveProcesses()).toEqual([])
    const pid = Number(readFileSync(join(dir, 'loading.log'), 'utf8').match(/fake pid (\d+)/)![1])
    expect(groupAlive(pid)).toBe(false)
  })

  it('a server that exits with an error -> EngineError with exit code and last log lines', async () => {
    const engine = new LlamaCppEngine(options(fakeServer('exit-2'), 'exit'))
    const error = (await engine.start().then(() => null, (e: unknown) => e)) as EngineError
    expect(error).toBeInstanceOf(EngineError)
    expect(error.message).toMatch(/^llama-server exited before it was ready \(exit code 2\)\./)
    expect(error.logTail.at(-1)).toBe('error: failed to load model')
    expect(error.exitCode).toBe(8)
  })
})
