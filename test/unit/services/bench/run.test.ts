import {describe, expect, it} from 'vitest'

import {elapsedText, interruptedError, progressText} from '../../../../src/services/bench/run.js'

describe('interruptedError: what bench says after Ctrl-C / SIGTERM (exit 130)', () => {
  it('names each saved file and the capplan bench --resume FILE that measures the rest of it', () => {
    const one = interruptedError(['results/a.json'])
    expect(one.kind).toBe('INTERRUPTED')
    expect(one.exitCode).toBe(130)
    expect(one.message).toBe('Interrupted. Saved what was measured in results/a.json.')
    expect(one.suggestion).toBe('Measure the remaining levels with capplan bench --resume results/a.json.')

    const two = interruptedError(['results/a.json', 'my results/b.json'])
    expect(two.message).toBe('Interrupted. Saved what was measured in results/a.json, my results/b.json.')
    expect(two.suggestion).toBe("Measure the remaining levels with capplan bench --resume results/a.json, then capplan bench --resume 'my results/b.json' (one run per file).")
  })

  it('says nothing was measured when no file was kept (interrupted while the engine started or warmed up)', () => {
    const none = interruptedError([])
    expect(none.exitCode).toBe(130)
    expect(none.message).toBe('Interrupted. Nothing was measured yet.')
    expect(none.suggestion).toBe('Run the same capplan bench command again.')
  })
})

describe('progress lines', () => {
  it('elapsed time in seconds, then minutes and seconds', () => {
    expect(elapsedText(0)).toBe('0 s')
    expect(elapsedText(59_999)).toBe('59 s')
    expect(elapsedText(187_000)).toBe('3 m 07 s')
  })

  it('a warmup shows requests done / planned and the elapsed time; a level also the live tok/s', () => {
    expect(progressText('m int4', {phase: 'warmup', requests: 12, concurrency: 12, done: 3, failed: 1, elapsedMs: 42_000}, 42_000)).toBe(
      'm int4: warmup · 3/12 requests (1 failed) · 12 at once · 42 s',
    )
    const level = {load: {kind: 'rate' as const, value: 2}, done: 5, failed: 0, total: 8, outputTokens: 500, elapsedMs: 10_000}
    expect(progressText('m int4', {phase: 'level', levelIndex: 1, levels: 3, level}, 10_000)).toBe('m int4: level 2/3 · 2 req/s · 5/8 requests · 50.0 output tok/s · 10 s')
  })
})
