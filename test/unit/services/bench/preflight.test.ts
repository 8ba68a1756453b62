import {describe, expect, it} from 'vitest'

import {CapplanError} from '../../../../src/lib/errors.js'
import type {LoadPlan} from '../../../../src/loadgen/run.js'
import type {StopRule} from '../../../../src/loadgen/stop-rules.js'
import {
  assertFitsInMemory,
  assertFitsOnDisk,
  assertLevelsReachConcurrency,
  busyMachineWarning,
  estimateRunMemory,
  kvCacheBytes,
  RUNTIME_OVERHEAD_BYTES,
} from '../../../../src/services/bench/preflight.js'
import {loadProfiles} from '../../../../src/profiles/load.js'
import {qwen25HalfB} from '../../../helpers/tiny-models.js'

const MiB = 2 ** 20

describe('memory estimate of a run', () => {
  it('KV cache = 2 x layers x KV heads x head dim x cells x 2 bytes', () => {
    // Qwen2.5-0.5B, 4 sequences of 512 + 256 + 16 = 3136 cells: 2 x 24 x 2 x 64 x 3136 x 2 = 38,535,168 bytes
    expect(kvCacheBytes(qwen25HalfB, 3136)).toBe(38_535_168)
  })

  it('an MLA model (DeepSeek V3) caches the latent, not per-head K and V: 61 x (512 + 64) x 2 B per cell', async () => {
    const store = await loadProfiles()
    const deepseek = store.get('model', 'deepseek-v3')
    // 61 layers x 576 x 2 B = 70,272 B per cell; the per-head formula would say 2 x 61 x 128 x 128 x 2 = 3,997,696
    expect(kvCacheBytes(deepseek, 1000)).toBe(70_272_000)
  })

  it('adds weights, KV and the runtime overhead', () => {
    const estimate = estimateRunMemory(qwen25HalfB, 300 * MiB, 3136)
    expect(estimate.totalBytes).toBe(300 * MiB + 38_535_168 + RUNTIME_OVERHEAD_BYTES)
  })

  it('accepts a run that fits and refuses one that does not, with exit 7 and the arithmetic', () => {
    const estimate = estimateRunMemory(qwen25HalfB, 1000 * MiB, 3136)
    expect(() => assertFitsInMemory(qwen25HalfB, 'fp16', estimate, estimate.totalBytes)).not.toThrow()
    let error: unknown
    try {
      assertFitsInMemory(qwen25HalfB, 'fp16', estimate, 1024 * MiB)
    } catch (thrown) {
      error = thrown
    }
    expect(error).toBeInstanceOf(CapplanError)
    const capplanError = error as CapplanError
    expect(capplanError.exitCode).toBe(7)
    // 1000 MiB + 36.75 MiB (38,535,168 B) + 512 MiB = 1548.75 -> "1,549 MiB"
    expect(capplanError.message).toBe(
      'qwen2.5-0.5b at fp16 needs about 1,549 MiB of memory (1,000 MiB of weights + 37 MiB of KV cache + 512 MiB runtime), but this machine has 1,024 MiB available.',
    )
    expect(capplanError.suggestion).toMatch(/--quant int4/)
  })
})

describe('disk check before synthesizing', () => {
  it('sums every file still to write, with a 10% margin', () => {
    const files = [
      {quant: 'int4' as const, bytes: 300 * MiB},
      {quant: 'fp16' as const, bytes: 900 * MiB},
    ]
    // (300 + 900) MiB x 1.1 = 1320 MiB
    expect(() => assertFitsOnDisk(qwen25HalfB, files, 1320 * MiB, '/cache')).not.toThrow()
    expect(() => assertFitsOnDisk(qwen25HalfB, files, 1319 * MiB, '/cache')).toThrow(
      'The synthetic qwen2.5-0.5b model(s) to write (int4 300 MiB + fp16 900 MiB) need 1,320 MiB with a 10% margin, but /cache has 1,319 MiB free.',
    )
    expect(() => assertFitsOnDisk(qwen25HalfB, [], 0, '/cache')).not.toThrow()
  })
})

describe('busy machine warning', () => {
  it('stays quiet up to a load of half the cores', () => {
    expect(busyMachineWarning(0.4, 2, 2)).toBeNull()
    expect(busyMachineWarning(1, 2, 2)).toBeNull()
  })

  it('warns above it, with the numbers, and suggests 1 thread only when more are used', () => {
    expect(busyMachineWarning(11.24, 2, 2)).toBe(
      "this machine is busy (1-minute load average 11.2 on 2 cores): llama.cpp's 2 threads will compete with other work and measure far below an idle machine. Measure when it is idle or pass --threads 1, which suffers least.",
    )
    expect(busyMachineWarning(3, 4, 1)).toBe(
      "this machine is busy (1-minute load average 3.0 on 4 cores): llama.cpp's 1 thread will compete with other work and measure far below an idle machine. Measure when it is idle.",
    )
  })
})

describe('levels that cannot reach their concurrency', () => {
  const closed = (concurrencies: number[], stopFor: (c: number) => StopRule): LoadPlan => ({kind: 'concurrency', concurrencies, stopFor})

  it('refuses --requests below a --concurrency, naming both (INVALID_INPUT)', () => {
    const refuse = () => assertLevelsReachConcurrency(closed([1, 8], () => ({kind: 'requests', requests: 2})))
    expect(refuse).toThrow(CapplanError)
    expect(refuse).toThrow('--requests 2 is fewer than --concurrency 8: the level would never have more than 2 requests in flight, so it would not measure concurrency 8.')
    expect(() => assertLevelsReachConcurrency(closed([8], () => ({kind: 'duration', durationMs: 10_000, maxRequests: 4})))).toThrow(
      '--requests 4 (the cap on each --duration level) is fewer than --concurrency 8',
    )
  })

  it('accepts as many requests as the concurrency, the default 2 rounds, rates and the sweep', () => {
    expect(() => assertLevelsReachConcurrency(closed([1, 2, 4], (c) => ({kind: 'requests', requests: c})))).not.toThrow()
    expect(() => assertLevelsReachConcurrency(closed([64], (c) => ({kind: 'requests', requests: Math.max(4, 2 * c)})))).not.toThrow()
    expect(() => assertLevelsReachConcurrency({kind: 'rate', rates: [100], stop: {kind: 'requests', requests: 2}, maxInFlight: 8})).not.toThrow()
    expect(() => assertLevelsReachConcurrency({kind: 'sweep', maxConcurrency: 64, minGain: 0.05, stopFor: () => ({kind: 'requests', requests: 2})})).not.toThrow()
  })
})
