import {describe, expect, it} from 'vitest'

import {capplanInProcess} from '../helpers/cli.js'

describe('capplan bench refusals (before anything is synthesized or loaded)', () => {
  /** oclif wraps long messages onto "›"-prefixed lines; join them back. */
  const flat = (text: string) => text.replace(/\s*\n\s*›?\s*/g, ' ')
  const bench = (args: string[]) => capplanInProcess(['bench', ...args], {env: {CAPPLAN_CACHE_DIR: '/nonexistent/capplan-cache'}})

  it('refuses a model too large for this machine with the estimate, exit 7 (also under --json)', async () => {
    const run = await bench(['--model', 'qwen2.5-72b', '--quant', 'fp16'])
    expect(run.exitCode).toBe(7)
    expect(flat(run.stderr)).toMatch(
      /qwen2.5-72b at fp16 needs about [\d,]+ MiB of memory \([\d,]+ MiB of weights \+ [\d,]+ MiB of KV cache \+ 512 MiB runtime\), but this machine has [\d,]+ MiB available/,
    )
    const json = await bench(['--model', 'qwen2.5-72b', '--quant', 'fp16', '--json'])
    expect(json.exitCode).toBe(7)
    expect(JSON.parse(json.stdout).error.kind).toBe('INSUFFICIENT_RESOURCES')
  })

  it('names the bad flag value: exit 3 for --quant, 4 for an unknown model or GPU profile', async () => {
    const quant = await bench(['--quant', 'int4,q5'])
    expect(quant.exitCode).toBe(3)
    expect(flat(quant.stderr)).toMatch(/--quant "q5" is not a quantization level/)
    const model = await bench(['--model', 'qwen2.5-05b'])
    expect(model.exitCode).toBe(4)
    expect(flat(model.stderr)).toMatch(/qwen2.5-0.5b/)
    const gpu = await bench(['--gpu', 'h100x'])
    expect(gpu.exitCode).toBe(4)
    expect(flat(gpu.stderr)).toMatch(/Unknown gpu profile "h100x". Closest: h100-nvl, h100-pcie, h100-sxm/)
  })

  it('refuses prompt + output longer than the model context, exit 3', async () => {
    const run = await bench(['--input-tokens', '32000', '--output-tokens', '1000'])
    expect(run.exitCode).toBe(3)
    expect(flat(run.stderr)).toMatch(/exceed qwen2.5-0.5b's context of 32768 tokens/)
  })
})
