import {chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runLlamaBench} from '../../../../src/engines/llamacpp/llama-bench.js'
import {EngineError} from '../../../../src/lib/errors.js'

// runLlamaBench's process handling, with stand-in executables: one replays the REAL recorded llama-bench
// jsonl (test/fixtures/llama-bench), one fails the way llama-bench does on a bad model file. The real
// binary is exercised in test/integration/llamacpp-build.test.ts.

const fixture = fileURLToPath(new URL('../../../fixtures/llama-bench/llama_bench.jsonl', import.meta.url))
let dir: string

function script(name: string, body: string): string {
  const file = join(dir, name)
  writeFileSync(file, `#!/bin/sh\n${body}\n`)
  chmodSync(file, 0o755)
  return file
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'capplan-llama-bench-run-'))
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe.skipIf(process.platform === 'win32')('runLlamaBench', () => {
  it('passes the arguments as an array and parses the jsonl printed on stdout', async () => {
    const argsFile = join(dir, 'args.txt')
    const replay = script('replay-bench', `printf '%s\\n' "$@" > '${argsFile}'\necho "llama-bench progress goes to stderr" >&2\ncat '${fixture}'`)
    const rows = await runLlamaBench({binary: replay, modelPath: '/models/a b.gguf', threads: 2, nPrompt: 64, nGen: 32, repetitions: 2})
    expect(rows.map((r) => r.avg_ts)).toEqual([218.091688, 71.309994])
    // The space in the model path survives: no shell ever splits it.
    expect(readFileSync(argsFile, 'utf8').trimEnd().split('\n')).toEqual([
      '-m', '/models/a b.gguf', '-t', '2', '-p', '64', '-n', '32', '-r', '2', '-o', 'jsonl',
    ])
  })

  it('turns a failed run into an EngineError with the command and its last stderr lines', async () => {
    const failing = script('failing-bench', 'echo "llama_model_load: error loading model: tensor data is not within the file bounds" >&2\necho "main: error: failed to load model" >&2\nexit 1')
    const error = await runLlamaBench({binary: failing, modelPath: '/m.gguf', threads: 1, nPrompt: 0, nGen: 8, repetitions: 1}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(EngineError)
    const engineError = error as EngineError
    expect(engineError.exitCode).toBe(8)
    expect(engineError.message).toMatch(/^llama-bench failed on \/m\.gguf \(exit code 1\)\./)
    expect(engineError.command).toBe(`${failing} -m /m.gguf -t 1 -p 0 -n 8 -r 1 -o jsonl`)
    expect(engineError.logTail).toEqual([
      'llama_model_load: error loading model: tensor data is not within the file bounds',
      'main: error: failed to load model',
    ])
  })

  it('names a missing binary as failing to start', async () => {
    const error = await runLlamaBench({binary: join(dir, 'nope'), modelPath: '/m.gguf', threads: 1, nPrompt: 0, nGen: 8, repetitions: 1}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(EngineError)
    expect((error as EngineError).message).toContain('it failed to start')
  })
})
