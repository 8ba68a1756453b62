import {existsSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

import {beforeAll, describe, expect, it} from 'vitest'

import {capplanInProcess} from '../helpers/cli.js'

// Runs the built CLI (`npm test` builds first) so exit codes and stdout are the real ones.
const root = fileURLToPath(new URL('../..', import.meta.url))

async function capplan(...args: string[]) {
  return capplanInProcess(['estimate', ...args], {cwd: root, env: {CAPPLAN_PROFILES: undefined}})
}

async function estimateJson(...args: string[]) {
  const result = await capplan(...args, '--json')
  return {exitCode: result.exitCode, stderr: result.stderr, json: JSON.parse(result.stdout) as Record<string, any>}
}

beforeAll(() => {
  if (!existsSync(new URL('../../dist/commands/estimate.js', import.meta.url))) {
    throw new Error('dist/commands/estimate.js is missing: run `npm run build` first (npm test does).')
  }
})

describe('capplan estimate: the issue example', () => {
  const example = ['--model', 'qwen2.5-72b', '--quant', 'int4', '--gpu', 'h100-sxm']

  it('prints fit, capacity and ceilings matching the hand calculation', async () => {
    const {exitCode, stdout} = await capplan(...example)
    expect(exitCode).toBe(0)
    expect(stdout).toContain('weights        44.07 GB = 72.7B params x 4.85 / 8') // Q4_K_M
    expect(stdout).toContain('KV per token   327,680 B = 2 x 80 layers x 8 KV heads x 128 x 2 B (fp16)')
    expect(stdout).toContain('max sequences  10 at 8,192 tokens') // (72 - 1 - 44.074) GB / 2.684 GB
    expect(stdout).toContain('valid TP sizes 1, 2, 4, 8 (KV heads split); 16, 32, 64 (KV heads replicated)')
    expect(stdout).toContain('batch-1 decode 60.81 tok/s') // 3.35e12 x 0.8 / 44.074e9
    expect(stdout).toMatch(/│ 10 +│ 378 +│ 37\.79 +│ memory/)
    expect(stdout).toContain('2,963 tok/s') // prefill 8192 tokens at MFU 0.5
    expect(stdout).toContain('eta_bw 0.8 (planning.md')
  })

  it('--json carries the same numbers and the assumptions', async () => {
    const {exitCode, json} = await estimateJson(...example)
    expect(exitCode).toBe(0)
    expect(json.label).toBe('estimate')
    expect(json.memory.maxSequences).toBe(10)
    expect(json.kvCache.perToken.bytes).toBe(327_680)
    expect(json.ceilings.batch1.tokensPerSecond).toBeCloseTo(60.8063, 4)
    expect(json.factors).toEqual({etaBandwidth: 0.8, etaCompute: 0.5, mfu: 0.5})
    expect(json.assumptions.length).toBeGreaterThan(5)
    expect(json.measured).toBeNull()
  })
})

describe('capplan estimate: measured and what-if', () => {
  it("seed 000's 405B FP16 on 12 A100s at 30 tok/s: TP 12 invalid, impossible", async () => {
    const {exitCode, stdout} = await capplan('--model', 'llama-3.1-405b', '--quant', 'fp16', '--gpu', 'a100-80gb-sxm', '--gpus', '12', '--measured', '30')
    expect(exitCode).toBe(0)
    expect(stdout).toContain('TP 12 is invalid (TP 12 does not divide 128 attention heads); the largest valid TP is 4 x PP 3')
    expect(stdout).toContain('batch-1 decode 8.04 tok/s')
    expect(stdout).toContain('12 GPUs cannot be one tensor-parallel group (TP 12 does not divide 128 attention heads): estimated as TP 4 x PP 3')
    expect(stdout).toMatch(/Measured batch-1 decode: impossible: 30\.0 tok\/s is 300% of the physical limit 9\.99 tok\/s/)
  })

  it('--what-if scales a measured point to other GPUs (and refuses one the model does not fit)', async () => {
    const {exitCode, json} = await estimateJson(
      '--model',
      'llama-3.1-70b',
      '--format',
      'awq',
      '--gpu',
      'a100-80gb-sxm',
      '--input-tokens',
      '1024',
      '--output-tokens',
      '256',
      '--measured',
      '25',
      '--what-if',
      'h200,rtx-4090',
    )
    expect(exitCode).toBe(0)
    expect(json.contextTokens).toBe(1280)
    expect(json.measured.verdict).toBe('ok')
    expect(json.measured.efficiency).toBeCloseTo(0.580_61, 4) // 25 / 43.0581 (ceiling at 1024 + 256/2 tokens)
    expect(json.whatIf[0].gpu).toBe('h200')
    expect(json.whatIf[0].result.estimatedTokensPerSecond).toBeCloseTo(58.8524, 3) // 25 x 4.8 / 2.039
    expect(json.whatIf[1].result).toEqual({ok: false, reason: 'llama-3.1-70b (37.5 GB of AWQ 4-bit (g128) weights) does not fit on 1 x rtx-4090'})
  })

  it('the cpu profile: no bandwidth -> a warning to measure or set it; --bandwidth gives ceilings', async () => {
    const without = await capplan('--model', 'qwen2.5-0.5b', '--quant', 'int4', '--gpu', 'cpu', '--memory-gb', '16')
    expect(without.exitCode).toBe(0)
    expect(without.stderr).toContain('measure it or set it with --bandwidth GB/s')
    expect(without.stdout).toContain('batch-1 decode unknown tok/s')
    const {json} = await estimateJson('--model', 'qwen2.5-0.5b', '--quant', 'int4', '--gpu', 'cpu', '--memory-gb', '16', '--bandwidth', '40')
    expect(json.hardware.bandwidthSource).toBe('flag')
    expect(json.ceilings.batch1.tokensPerSecond).toBeCloseTo(107.72, 2) // 40e9 x 0.8 / (0.49e9 x 4.85 / 8)
  })
})

describe('capplan estimate: errors', () => {
  it('unknown model -> NOT_FOUND (4) naming close ids', async () => {
    const {exitCode, json} = await estimateJson('--model', 'qwen2.5-72', '--quant', 'int4', '--gpu', 'h100-sxm')
    expect(exitCode).toBe(4)
    expect(json.error.message).toContain('qwen2.5-72')
  })

  it('unknown gpu -> NOT_FOUND (4)', async () => {
    const {exitCode} = await estimateJson('--model', 'qwen2.5-72b', '--quant', 'int4', '--gpu', 'h1000')
    expect(exitCode).toBe(4)
  })

  it('format contradicting the quant -> INVALID_INPUT (3)', async () => {
    const {exitCode, json} = await estimateJson('--model', 'qwen2.5-72b', '--quant', 'int4', '--format', 'q8_0', '--gpu', 'h100-sxm')
    expect(exitCode).toBe(3)
    expect(json.error.message).toBe('--format q8_0 is an int8 format (8.5 bits per weight) but --quant is int4.')
  })

  it('no quant and no concrete format -> INVALID_INPUT (3)', async () => {
    const {exitCode, json} = await estimateJson('--model', 'qwen2.5-72b', '--gpu', 'h100-sxm')
    expect(exitCode).toBe(3)
    expect(json.error.message).toContain('--quant is missing')
  })

  it('--memory-utilization above 1 -> INVALID_INPUT (3)', async () => {
    const {exitCode, json} = await estimateJson('--model', 'qwen2.5-72b', '--quant', 'int4', '--gpu', 'h100-sxm', '--memory-utilization', '1.5')
    expect(exitCode).toBe(3)
    expect(json.error.message).toBe('--memory-utilization must be at most 1 (got "1.5").')
  })

  it('--what-if without --measured is a usage error (2)', async () => {
    const {exitCode} = await capplan('--model', 'qwen2.5-72b', '--quant', 'int4', '--gpu', 'h100-sxm', '--what-if', 'h200')
    expect(exitCode).toBe(2)
  })
})

describe('capplan estimate --from RESULT (a real capplan result: embedded engine, synthetic Qwen2.5-0.5B Q4_0, 2-core CPU)', () => {
  const result = 'test/fixtures/peers/capplan-embedded-int4.json'

  it('checks each measured level on its hardware and scales it to --gpu, labeled estimate', async () => {
    const {exitCode, json} = await estimateJson('--from', result, '--gpu', 'h100-sxm', '--from-bandwidth', '10')
    expect(exitCode).toBe(0)
    expect(json.model.id).toBe('qwen2.5-0.5b')
    expect(json.format.label).toBe('Q4_0') // from the file, 4.5 bits
    expect(json.contextTokens).toBe(48) // 32 in + 16 out
    const [c1, c2] = json.fromResult.levels
    expect(c1.concurrency).toBe(1)
    expect(c2.concurrency).toBe(2)
    expect(c1.measuredTokensPerSecond).toBeCloseTo(1.276_693, 6) // the file's level summary
    // 10e9 x 0.8 / (0.49e9 x 4.5 / 8 + 12,288 B/token x (32 + 16/2)) = 8e9 / 276,116,520 = 28.9733
    expect(c1.check.ceilingTokensPerSecond).toBeCloseTo(28.9733, 4)
    expect(c1.check.verdict).toBe('ok')
    expect(c1.whatIf.label).toBe('estimate')
    // both memory-bound with the same bytes: x 3350 / 10 GB/s
    expect(c1.whatIf.estimatedTokensPerSecond).toBeCloseTo(1.276_693 * 335, 3)
    expect(c1.whatIf.warnings[0]).toContain('measured on cpu hardware, estimated for nvidia')
  })

  it('without a bandwidth for the CPU run every level is refused with "measure it or set it"', async () => {
    const {exitCode, stdout} = await capplan('--from', result, '--gpu', 'h100-sxm')
    expect(exitCode).toBe(0)
    expect(stdout).toContain('concurrency 1 refused: no ceiling: cpu has no memory bandwidth: measure it or set it')
    expect(stdout).toContain('give it with --from-bandwidth GB/s')
  })

  it('--model contradicting the result -> INVALID_INPUT (3); a missing file -> NOT_FOUND (4)', async () => {
    expect((await estimateJson('--from', result, '--gpu', 'h100-sxm', '--model', 'qwen2.5-7b')).exitCode).toBe(3)
    expect((await estimateJson('--from', 'results/none.json', '--gpu', 'h100-sxm')).exitCode).toBe(4)
  })
})
