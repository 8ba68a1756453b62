import {chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {llamaBenchArgs, runLlamaBench} from '../../../../src/engines/llamacpp/llama-bench.js'
import {llamaBenchTestName, parseLlamaBenchOutput} from '../../../../src/results/import/llama-bench-format.js'
import {CapplanError, EngineError} from '../../../../src/lib/errors.js'

// Real llama-bench output, copied byte for byte from /work/shared/fixtures/llama-bench (see its README):
// `llama-bench -m node-qwen2.5-0.5b-shape-q4_0.gguf -t 2 -p 64 -n 32 -r 2 -o json` (and -o jsonl).
const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`../../../fixtures/llama-bench/${name}`, import.meta.url)), 'utf8')

function expectInvalidResult(fn: () => unknown, messagePart: RegExp): void {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(CapplanError)
    expect((error as CapplanError).kind).toBe('INVALID_RESULT')
    expect((error as CapplanError).exitCode).toBe(6)
    expect((error as CapplanError).message).toMatch(messagePart)
    return
  }
  throw new Error('expected an INVALID_RESULT error')
}

describe('parseLlamaBenchOutput on the recorded -o json file', () => {
  const rows = parseLlamaBenchOutput(fixture('llama_bench.json'), 'llama_bench.json')

  it('reads both tests with their exact numbers', () => {
    expect(rows).toHaveLength(2)
    const [pp, tg] = rows
    expect(pp?.n_prompt).toBe(64)
    expect(pp?.n_gen).toBe(0)
    expect(pp?.avg_ts).toBe(214.632859)
    expect(pp?.stddev_ts).toBe(3.378345)
    expect(pp?.avg_ns).toBe(298220549)
    expect(pp?.samples_ts).toEqual([212.244, 217.022])
    expect(tg?.n_prompt).toBe(0)
    expect(tg?.n_gen).toBe(32)
    expect(tg?.avg_ts).toBe(71.775152)
    expect(tg?.stddev_ts).toBe(0.072371)
    expect(tg?.samples_ns).toEqual([445519101, 446154844])
  })

  it('keeps the model and run parameters', () => {
    const tg = rows[1]
    expect(tg?.model_type).toBe('qwen2 1B Q4_0')
    expect(tg?.model_size).toBe(278139392)
    expect(tg?.model_n_params).toBe(494032768)
    expect(tg?.n_threads).toBe(2)
    expect(tg?.n_batch).toBe(2048)
    expect(tg?.n_ubatch).toBe(512)
    expect(tg?.flash_attn).toBe(-1)
    expect(tg?.backends).toBe('CPU')
    expect(tg?.cpu_info).toBe('AMD EPYC')
  })

  it('tolerates fields the schema does not name (passed through)', () => {
    expect((rows[0] as Record<string, unknown>).tensor_buft_overrides).toBe('none')
    expect((rows[0] as Record<string, unknown>).load_mode).toBe('mmap')
  })

  it('agrees with its own samples: avg_ts is the mean of samples_ts', () => {
    // (71.8263 + 71.724) / 2 = 71.77515; llama-bench prints 71.775152 (it averages unrounded samples).
    const tg = rows[1]
    expect(tg?.avg_ts).toBeCloseTo((71.8263 + 71.724) / 2, 4)
  })
})

describe('parseLlamaBenchOutput on the recorded -o jsonl file', () => {
  const rows = parseLlamaBenchOutput(fixture('llama_bench.jsonl'), 'llama_bench.jsonl')

  it('reads one row per line with exact numbers', () => {
    expect(rows.map((r) => llamaBenchTestName(r))).toEqual(['pp64', 'tg32'])
    expect(rows[0]?.avg_ts).toBe(218.091688)
    expect(rows[0]?.samples_ts).toEqual([218.557, 217.627])
    expect(rows[1]?.avg_ts).toBe(71.309994)
    expect(rows[1]?.stddev_ns).toBe(698785)
    expect(rows[1]?.test_time).toBe('2026-11-22T06:05:20Z')
  })
})

describe('malformed llama-bench output', () => {
  const jsonl = fixture('llama_bench.jsonl').split('\n')

  it('names the file and line of a truncated JSONL row', () => {
    const broken = [jsonl[0], jsonl[1]?.slice(0, 40)].join('\n')
    expectInvalidResult(() => parseLlamaBenchOutput(broken, 'run.jsonl'), /^run\.jsonl line 2 is not valid JSON/)
  })

  it('names the row and field of a wrong-typed value', () => {
    const rows = JSON.parse(fixture('llama_bench.json')) as Record<string, unknown>[]
    rows[1] = {...rows[1], avg_ts: '71.7'}
    expectInvalidResult(() => parseLlamaBenchOutput(JSON.stringify(rows), 'bench.json'), /^bench\.json row 2: field avg_ts is invalid/)
  })

  it('names a missing required field', () => {
    const row = JSON.parse(jsonl[0] ?? '') as Record<string, unknown>
    delete row.n_gen
    expectInvalidResult(() => parseLlamaBenchOutput(JSON.stringify(row), 'x.jsonl'), /^x\.jsonl line 1: field n_gen is invalid/)
  })

  it('refuses an empty file, a non-array JSON document and an unclosed array', () => {
    expectInvalidResult(() => parseLlamaBenchOutput('  \n', 'empty.json'), /^empty\.json holds no llama-bench rows/)
    expectInvalidResult(() => parseLlamaBenchOutput('[{"a":1}', 'cut.json'), /^cut\.json is not valid JSON/)
    expectInvalidResult(() => parseLlamaBenchOutput('{"a":1}', 'obj.jsonl'), /^obj\.jsonl line 1: field build_commit is invalid/)
  })
})

describe('llamaBenchTestName', () => {
  it('labels tests the way llama-bench does', () => {
    expect(llamaBenchTestName({n_prompt: 512, n_gen: 0, n_depth: 0})).toBe('pp512')
    expect(llamaBenchTestName({n_prompt: 0, n_gen: 128, n_depth: 0})).toBe('tg128')
    expect(llamaBenchTestName({n_prompt: 512, n_gen: 128, n_depth: 0})).toBe('pp512+tg128')
    expect(llamaBenchTestName({n_prompt: 0, n_gen: 32, n_depth: 4096})).toBe('tg32 @ d4096')
  })
})

describe('llamaBenchArgs', () => {
  it('asks for jsonl and passes every parameter as its own argument', () => {
    expect(llamaBenchArgs({modelPath: '/m/q4 0.gguf', threads: 2, nPrompt: 0, nGen: 64, repetitions: 3, extraArgs: ['-ub', '256']})).toEqual([
      '-m',
      '/m/q4 0.gguf',
      '-t',
      '2',
      '-p',
      '0',
      '-n',
      '64',
      '-r',
      '3',
      '-o',
      'jsonl',
      '-ub',
      '256',
    ])
  })
})

// runLlamaBench's process handling, with stand-in executables: one replays the REAL recorded llama-bench
// jsonl (test/fixtures/llama-bench), one fails the way llama-bench does on a bad model file. The real
// binary is exercised in test/integration/llamacpp-build.test.ts.

const jsonlFixture = fileURLToPath(new URL('../../../fixtures/llama-bench/llama_bench.jsonl', import.meta.url))
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
    const replay = script('replay-bench', `printf '%s\\n' "$@" > '${argsFile}'\necho "llama-bench progress goes to stderr" >&2\ncat '${jsonlFixture}'`)
    const rows = await runLlamaBench({binary: replay, modelPath: '/models/a b.gguf', threads: 2, nPrompt: 64, nGen: 32, repetitions: 2})
    expect(rows.map((r) => r.avg_ts)).toEqual([218.091688, 71.309994])
    // The space in the model path survives: no shell ever splits it.
    expect(readFileSync(argsFile, 'utf8').trimEnd().split('\n')).toEqual(['-m', '/models/a b.gguf', '-t', '2', '-p', '64', '-n', '32', '-r', '2', '-o', 'jsonl'])
  })

  it('turns a failed run into an EngineError with the command and its last stderr lines', async () => {
    const failing = script(
      'failing-bench',
      'echo "llama_model_load: error loading model: tensor data is not within the file bounds" >&2\necho "main: error: failed to load model" >&2\nexit 1',
    )
    const error = await runLlamaBench({binary: failing, modelPath: '/m.gguf', threads: 1, nPrompt: 0, nGen: 8, repetitions: 1}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(EngineError)
    const engineError = error as EngineError
    expect(engineError.exitCode).toBe(8)
    expect(engineError.message).toMatch(/^llama-bench failed on \/m\.gguf \(exit code 1\)\./)
    expect(engineError.command).toBe(`${failing} -m /m.gguf -t 1 -p 0 -n 8 -r 1 -o jsonl`)
    expect(engineError.logTail).toEqual(['llama_model_load: error loading model: tensor data is not within the file bounds', 'main: error: failed to load model'])
  })

  it('names a missing binary as failing to start', async () => {
    const error = await runLlamaBench({binary: join(dir, 'nope'), modelPath: '/m.gguf', threads: 1, nPrompt: 0, nGen: 8, repetitions: 1}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(EngineError)
    expect((error as EngineError).message).toContain('it failed to start')
  })
})
