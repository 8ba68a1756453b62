import {describe, expect, it} from 'vitest'

import * as bench from '../../../perf/loadgen-bench.js'

/**
 * perf/loadgen-bench.ts: the pure parts (gap errors, |x| percentiles, stamp parsing, the per-stream ITL
 * summary, the text lines) with hand-computed numbers, and one tiny end-to-end run whose COUNTS (not
 * timings) are exact.
 */

describe('gapErrors', () => {
  it('client gap minus source gap per consecutive pair', () => {
    // client gaps 10.5, 9.5, 11; source gaps 10, 10, 10 -> 0.5, -0.5, 1
    expect(bench.gapErrors([0, 10.5, 20, 31], [100, 110, 120, 130])).toEqual([0.5, -0.5, 1])
  })

  it('only differences matter: the two clocks may have any origin', () => {
    // client gaps 3, 4; source gaps 2, 5 -> 1, -1
    expect(bench.gapErrors([1000, 1003, 1007], [5, 7, 12])).toEqual([1, -1])
  })

  it('one event has no pair; mismatched lengths are refused', () => {
    expect(bench.gapErrors([5], [7])).toEqual([])
    expect(() => bench.gapErrors([1, 2], [1])).toThrow(RangeError)
  })
})

describe('absoluteSpread', () => {
  it('p50/p99 by linear interpolation over |values|, max, count', () => {
    // |values| sorted: 0, 0.5, 0.5, 1, 2 (n = 5)
    // p50: h = 4 * 0.5 = 2 -> 0.5
    // p99: h = 4 * 0.99 = 3.96 -> x[3] + 0.96 * (x[4] - x[3]) = 1 + 0.96 * 1 = 1.96
    const spread = bench.absoluteSpread([0.5, -0.5, 1, -2, 0])!
    expect(spread.count).toBe(5)
    expect(spread.p50).toBe(0.5)
    expect(spread.p99).toBeCloseTo(1.96, 12)
    expect(spread.max).toBe(2)
  })

  it('no values -> null', () => {
    expect(bench.absoluteSpread([])).toBeNull()
  })
})

describe('parseStamp', () => {
  it('reads "t=<ms>" and nothing else', () => {
    expect(bench.parseStamp('t=1795327509123.456')).toBe(1795327509123.456)
    expect(bench.parseStamp('t=42')).toBe(42)
    expect(bench.parseStamp('xO')).toBeNull()
    expect(bench.parseStamp('t=12x')).toBeNull()
    expect(bench.parseStamp(undefined)).toBeNull()
  })
})

describe('itlErrorSummary', () => {
  it('pools the pairs of every stamped stream and skips a stream with an unstamped text', () => {
    const summary = bench.itlErrorSummary(
      [
        // client gaps 10, 11; source gaps 10, 10 -> errors 0, 1; gap - 10 ms: 0, 1
        {clientMs: [0, 10, 21], texts: ['t=1000.000', 't=1010.000', 't=1020.000']},
        // client gap 9; source gap 2010.000 - 2000.500 = 9.5 -> error -0.5; gap - 10 ms: -1
        {clientMs: [5, 14], texts: ['t=2000.500', 't=2010.000']},
        // not stamped: left out, counted
        {clientMs: [0, 10], texts: ['xO', 't=1']},
      ],
      10,
    )
    expect(summary.pairs).toBe(3)
    expect(summary.skippedStreams).toBe(1)
    // |errors| sorted 0, 0.5, 1: p50 h = 1 -> 0.5; p99 h = 1.98 -> 0.5 + 0.98 * 0.5 = 0.99; max 1
    expect(summary.absErrorMs!.p50).toBe(0.5)
    expect(summary.absErrorMs!.p99).toBeCloseTo(0.99, 12)
    expect(summary.absErrorMs!.max).toBe(1)
    // |gap - 10| sorted 0, 1, 1: p50 1, p99 1, max 1
    expect(summary.absGapMinusIntervalMs).toEqual({count: 3, p50: 1, p99: 1, max: 1})
  })
})

describe('formatLoadgenBench', () => {
  it('prints the ratios measured / target with the numbers behind them', () => {
    const lines = bench.formatLoadgenBench({
      machine: {cpuModel: 'Test CPU', cpus: 2, node: '20.20.2', loadavgBefore: [1, 2, 3], loadavgAfter: [1.5, 2, 3]},
      ceiling: {
        engine: 'llamacpp',
        streams: 256,
        tokensPerStream: 2000,
        requests: 256,
        failed: 0,
        clientTokens: 512_000,
        usageTokens: 512_000,
        sourceTokensSent: 512_000,
        wallMs: 4000,
        // 512,000 tokens / 4 s = 128,000 tok/s; / 100,000 = 1.28
        tokensPerSecond: 128_000,
        targetTokensPerSecond: 100_000,
        ratio: 1.28,
        clientCpu: {userMs: 3600, systemMs: 200, cores: 0.95},
        tokensPerClientCpuSecond: 134_736.8,
        sourceCpu: {ms: 1000, cores: 0.25},
        summarizeMs: 120,
        summaryOutputTokensPerSecond: 128_500,
      },
      itl: {
        engine: 'llamacpp',
        streams: 64,
        intervalMs: 10,
        tokensPerStream: 100,
        failed: 0,
        pairs: 6336, // 64 x 99
        skippedStreams: 0,
        absErrorMs: {count: 6336, p50: 0.05, p99: 0.8, max: 2.5},
        absGapMinusIntervalMs: {count: 6336, p50: 0.1, p99: 1.2, max: 3},
        targetP99Ms: 1,
        ratio: 0.8,
        clientCpu: {userMs: 100, systemMs: 10, cores: 0.1},
        eventLoopDelayMs: {p50: 1.05, p99: 1.5, max: 4},
      },
    })
    const text = lines.join('\n')
    expect(text).toContain('loadavg before 1.00 2.00 3.00, after 1.50 2.00 3.00')
    expect(text).toContain('client ingested 512,000 tokens in 4.00 s = 128,000 tok/s; target 100,000 -> ratio 1.280 (meets target)')
    expect(text).toContain('= 0.95 cores (134,737 tokens per client CPU-second)')
    expect(text).toContain('over 6336 pairs: p50 0.050 ms, p99 0.800 ms, max 2.500 ms; target p99 <= 1 ms -> ratio 0.800 (meets target)')
    expect(text).toContain('|client gap - 10 ms|: p50 0.100 ms, p99 1.200 ms')
    expect(text).toContain('client event-loop delay (1 ms timer) p50 1.050 ms, p99 1.500 ms, max 4.000 ms')
  })
})

describe('runLoadgenBench (tiny, real child source)', () => {
  it('counts every token both ways and pairs every ITL event', async () => {
    const summary = await bench.runLoadgenBench({streams: 4, tokensPerStream: 50, itlStreams: 3, itlIntervalMs: 2, itlTokens: 6, warmupTokens: 5})
    const ceiling = summary.ceiling!
    // 4 streams x 50 tokens = 200, counted by the client, reported by usage, and sent by the source.
    expect(ceiling.clientTokens).toBe(200)
    expect(ceiling.usageTokens).toBe(200)
    expect(ceiling.sourceTokensSent).toBe(200)
    expect(ceiling.failed).toBe(0)
    expect(ceiling.tokensPerSecond).toBeCloseTo((200 * 1000) / (ceiling.wallMs as number), 9)
    expect(ceiling.ratio).toBeCloseTo((ceiling.tokensPerSecond as number) / 100_000, 12)
    const itl = summary.itl!
    // 3 streams x (6 - 1) pairs = 15, every text stamped.
    expect(itl.pairs).toBe(15)
    expect(itl.skippedStreams).toBe(0)
    expect(itl.failed).toBe(0)
    expect(itl.absErrorMs!.count).toBe(15)
    expect(Object.keys(itl.eventLoopDelayMs as object)).toEqual(['p50', 'p99', 'max'])
  })
})

describe('meetsYardstick (capplan p99 vs the Python yardstick p99, same rounds)', () => {
  it('2.0 <= 2.5 meets; 2.6 > 2.5 misses; a yardstick at or under 1 ms asks capplan <= 1 ms as well', () => {
    expect(bench.meetsYardstick(2.0, 2.5)).toBe(true)
    expect(bench.meetsYardstick(2.6, 2.5)).toBe(false)
    expect(bench.meetsYardstick(0.9, 0.95)).toBe(true)
    expect(bench.meetsYardstick(1.0, 1.0)).toBe(true)
    expect(bench.meetsYardstick(0.96, 0.95)).toBe(false)
  })
})

describe('formatItlComparison', () => {
  it('one line per stream count for the yardstick, one per capplan path with its ratio and verdict', () => {
    const summary = (p99: number) => ({
      pairs: 99,
      skippedStreams: 0,
      absErrorMs: {count: 99, p50: 0.2, p99, max: p99 + 1},
      absGapMinusIntervalMs: {count: 99, p50: 0.3, p99: p99 + 0.5, max: p99 + 2},
    })
    const lines = bench.formatItlComparison({
      rounds: 3,
      intervalMs: 10,
      tokensPerStream: 100,
      loadavgBefore: [1.5, 1, 0.5],
      loadavgAfter: [2, 1, 0.5],
      at: [
        {
          streams: 64,
          yardstick: {summary: summary(2), failed: 0, cpuS: 1, wallS: 4},
          clients: [{name: 'capplan openai/node-http', summary: summary(1.5), failed: 0, ratioToYardstick: 0.75, meetsTarget: true, gcPauseMaxMs: 2.25}],
        },
      ],
    })
    expect(lines[0]).toContain('3 interleaved rounds, source every 10 ms, 100 tokens per stream; loadavg before 1.50 1.00 0.50, after 2.00 1.00 0.50')
    expect(lines[1]).toBe('  64 streams: yardstick p50 0.200 / p99 2.000 / max 3.000 ms; |gap - 10| p99 2.500 ms (99 pairs); failed 0; CPU 0.25 cores')
    expect(lines[2]).toBe(
      '    capplan openai/node-http: p50 0.200 / p99 1.500 / max 2.500 ms; |gap - 10| p99 2.000 ms (99 pairs); p99 ratio to yardstick 0.750 (meets target); longest GC pause 2.250 ms; failed 0',
    )
    const withLoad = bench.formatItlComparison({
      rounds: 2,
      intervalMs: 10,
      tokensPerStream: 100,
      loadavgBefore: [1, 1, 1],
      loadavgAfter: [1, 1, 1],
      at: [{streams: 256, loadavgPerRound: [1.234, 2.5], yardstick: {summary: summary(2), failed: 0, cpuS: 1, wallS: 4}, clients: []}],
    })
    expect(withLoad[1]).toMatch(/^ {2}256 streams \(load average at each round's start 1\.23, 2\.50\): yardstick p50 0\.200/)
  })
})

describe('formatCeilingThreads', () => {
  it("each round's numbers with its load, then each thread count's per-round tok/s ratio to the first count", () => {
    const r = (threads: number, tokensPerSecond: number, perCpu: number) => ({
      threads,
      loadavg1: 1.5,
      tokensPerSecond,
      tokensPerClientCpuSecond: perCpu,
      clientCores: 1,
      sourceCores: 0.25,
      failed: 0,
      countedEqualsUsage: true,
    })
    const lines = bench.formatCeilingThreads({
      rounds: 2,
      threads: [1, 2],
      results: [
        [r(1, 100_000, 120_000), r(2, 150_000, 90_000)],
        [r(1, 200_000, 130_000), {...r(2, 220_000, 100_000), countedEqualsUsage: false}],
      ],
    })
    expect(lines[1]).toBe(
      '  round 1: 1 thread(s) 100,000 tok/s, 120,000 per client CPU-s, client 1.00 + source 0.25 cores, load 1.50, failed 0; 2 thread(s) 150,000 tok/s, 90,000 per client CPU-s, client 1.00 + source 0.25 cores, load 1.50, failed 0',
    )
    expect(lines[2]).toContain('2 thread(s) 220,000 tok/s, 100,000 per client CPU-s, client 1.00 + source 0.25 cores, load 1.50, failed 0 COUNTED != USAGE')
    // 150k / 100k = 1.50, 220k / 200k = 1.10; per CPU-s 90k / 120k = 0.75, 100k / 130k = 0.77.
    expect(lines[4]).toBe('  2 thread(s): tok/s ratio to 1 thread(s) per round 1.50, 1.10; tokens per client CPU-s 90,000-100,000 (ratio per round 0.75, 0.77)')
  })
})

describe('the CLI level: cliTraceText and pairCliStreams', () => {
  it('the trace: a warmup burst of 10, 11, ... tokens at 0 ms, then the measured streams of 100, 101, ... at once', () => {
    const lines = bench
      .cliTraceText(3, 16)
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as {timestamp: number; input_length: number; output_length: number; hash_ids: number[]})
    expect(lines).toHaveLength(bench.CLI_WARMUP.streams + 3)
    expect(lines[0]).toEqual({timestamp: 0, input_length: 16, output_length: 10, hash_ids: []})
    expect(lines[bench.CLI_WARMUP.streams - 1]!.output_length).toBe(10 + bench.CLI_WARMUP.streams - 1)
    expect(lines.slice(-3).map((l) => [l.timestamp, l.output_length])).toEqual([
      [bench.CLI_WARMUP.measuredAtMs, 100],
      [bench.CLI_WARMUP.measuredAtMs, 101],
      [bench.CLI_WARMUP.measuredAtMs, 102],
    ])
    // Every length is unique, warmup and measured apart: that is what pairs a request with its logged stream.
    const lengths = lines.map((l) => l.output_length)
    expect(new Set(lengths).size).toBe(lengths.length)
    expect(Math.max(...lengths.slice(0, bench.CLI_WARMUP.streams))).toBeLessThan(bench.CLI_MEASURED_FIRST_TOKENS)
  })

  it('pairs by length, skips the warmup, counts failures and lengths logged twice or never', () => {
    const ok = (outputTokens: number, chunkOffsetsMs: number[]) => ({outputTokens, chunkOffsetsMs, error: null})
    const logged = [
      {maxTokens: 100, sentAt: ['1000.000', '1010.000', '1020.500']},
      {maxTokens: 10, sentAt: ['900.000']},
      {maxTokens: 102, sentAt: ['1.000', '2.000']},
      {maxTokens: 102, sentAt: ['5.000', '6.000']},
    ]
    const paired = bench.pairCliStreams(
      [
        ok(100, [5, 15.5, 25]),
        ok(10, [1]), // warmup: below 100, not measured
        ok(101, [1, 2]), // no logged stream of 101
        ok(102, [1, 2]), // two logged streams of 102: ambiguous
        {outputTokens: 40, chunkOffsetsMs: [], error: {kind: 'dropped', message: 'x'}},
      ],
      logged,
    )
    expect(paired).toEqual({streams: [{clientMs: [5, 15.5, 25], texts: ['t=1000.000', 't=1010.000', 't=1020.500']}], failed: 1, unpaired: 2})
    // Only the first measuredFrom events of each stream (all streams in flight): here the first 2 of 3
    const cut = bench.pairCliStreams([ok(100, [5, 15.5, 25])], logged, 2)
    expect(cut.streams).toEqual([{clientMs: [5, 15.5], texts: ['t=1000.000', 't=1010.000']}])
    // Through the same summary as the in-process clients: client gaps 10.5, 9.5; source gaps 10, 10.5 -> 0.5, -1.
    const summary = bench.itlErrorSummary(paired.streams, 10)
    expect(summary.pairs).toBe(2)
    expect(summary.absErrorMs?.max).toBe(1)
  })

  it('comparedClients picks by name part and names every client when none matches', () => {
    expect(bench.comparedClients(['CLI']).map((c) => c.name)).toEqual(['capplan bench --engine openai (CLI)', 'capplan bench --engine llamacpp (CLI)'])
    expect(bench.comparedClients()).toBe(bench.COMPARED_CLIENTS)
    // An exact name takes that client alone; a part takes every client containing it.
    expect(bench.comparedClients(['capplan llamacpp/node-http']).map((c) => c.name)).toEqual(['capplan llamacpp/node-http'])
    expect(bench.comparedClients(['llamacpp/node-http']).map((c) => c.name)).toEqual([
      'capplan llamacpp/node-http',
      'capplan llamacpp/node-http 1 worker',
      'capplan llamacpp/node-http 2 workers',
    ])
    expect(() => bench.comparedClients(['nothing'])).toThrow(/"nothing".*capplan llamacpp\/node-http;/)
  })
})

describe('the verdicts npm run bench prints: itlVerdict and ceilingVerdict', () => {
  const summary = (p50: number, p99: number) => ({
    pairs: 99,
    skippedStreams: 0,
    absErrorMs: {count: 99, p50, p99, max: p99 + 1},
    absGapMinusIntervalMs: null,
  })
  const client = (name: string, p99: number, yP99: number, isDefault = true) => ({
    name,
    isDefault,
    summary: summary(0.1, p99),
    failed: 0,
    ratioToYardstick: p99 / yP99,
    meetsTarget: bench.meetsYardstick(p99, yP99),
    gcPauseMaxMs: 1,
  })

  it('counts the default paths only, names each miss with its ratio, says whether the 1 ms clause applied', () => {
    const lines = bench.itlVerdict({
      rounds: 3,
      intervalMs: 10,
      tokensPerStream: 100,
      loadavgBefore: [1, 1, 1],
      loadavgAfter: [1, 1, 1],
      at: [
        {
          streams: 64,
          loadavgPerRound: [2.5, 1.2],
          yardstick: {summary: summary(0.3, 4), failed: 0, cpuS: 1, wallS: 4},
          clients: [client('a', 3, 4), client('b', 5, 4), client('fetch', 9, 4, false)],
        },
        {streams: 256, yardstick: {summary: summary(2, 20), failed: 0, cpuS: 1, wallS: 4}, clients: [client('a', 10, 20), client('b', 19, 20)]},
      ],
    })
    // 4 default cells, 3 meet (b at 64 streams misses: 5 / 4 = 1.25x); fetch (not a default path) not counted.
    expect(lines[0]).toBe("  target (default paths: a, b): p99 <= the yardstick's in 3 of 4 cells -> MISSED")
    expect(lines[1]).toBe("    missed: b at 64 streams, p99 5.000 ms = 1.25x the yardstick's 4.000 ms (its longest GC pause 1.0 ms, load average 1.20-2.50)")
    expect(lines[2]).toBe("    the <= 1 ms clause did not apply: the yardstick's p99 was above 1 ms at every stream count (4.00 ms at 64, 20.00 ms at 256)")
    expect(lines[3]).toBe("    p50 at 64 streams: capplan 0.100 / 0.100 ms vs the yardstick's 0.300 ms")
  })

  it("where the yardstick reached <= 1 ms the clause is said to apply (a capplan p99 above the yardstick's misses)", () => {
    const lines = bench.itlVerdict({
      rounds: 1,
      intervalMs: 10,
      tokensPerStream: 100,
      loadavgBefore: [1, 1, 1],
      loadavgAfter: [1, 1, 1],
      at: [{streams: 64, yardstick: {summary: summary(0.3, 0.9), failed: 0, cpuS: 1, wallS: 4}, clients: [client('a', 0.8, 0.9), client('b', 0.95, 0.9)]}],
    })
    expect(lines[0]).toContain('in 1 of 2 cells -> MISSED')
    expect(lines[2]).toBe('    the <= 1 ms clause applied at 64 streams (judged in the cells above)')
  })

  const row = (threads: number, tokensPerSecond: number, clientCores: number, sourceCores: number, perCpu = 130_000) => ({
    threads,
    loadavg1: 1,
    tokensPerSecond,
    tokensPerClientCpuSecond: perCpu,
    clientCores,
    sourceCores,
    failed: 0,
    countedEqualsUsage: true,
  })

  it('ceiling: the median ratio against 1.8x; the why says the cores were full when client + source used them', () => {
    const lines = bench.ceilingVerdict(
      {
        rounds: 3,
        threads: [1, 2],
        results: [
          [row(1, 100_000, 1, 0.3, 150_000), row(2, 107_000, 1.6, 0.3)],
          [row(1, 100_000, 1, 0.3, 120_000), row(2, 101_000, 1.4, 0.3)],
          [row(1, 100_000, 1, 0.3, 140_000), row(2, 103_000, 1.5, 0.3)],
        ],
      },
      2,
    )
    // ratios 1.07, 1.01, 1.03 -> median 1.03; up to 1.6 + 0.3 = 1.9 of 2 cores.
    expect(lines[0]).toBe("  target: 2 thread(s) >= 1.8x one thread's tok/s -> MISSED (median of 3 rounds 1.03x)")
    expect(lines[1]).toContain("client + source used up to 1.90 of this machine's 2 cores: no core was left")
    expect(lines[2]).toBe('  target: one thread >= the previous 112,000 tokens per client CPU-s (another run) -> MET (120,000-150,000)')
  })

  it('ceiling: with cores to spare the why blames the serial part; a ratio of 1.8 or more is MET with no why', () => {
    const spare = bench.ceilingVerdict({rounds: 1, threads: [1, 4], results: [[row(1, 100_000, 1, 0.3), row(4, 150_000, 2, 0.3)]]}, 8)
    expect(spare[0]).toContain('4 thread(s) >= 1.8x')
    expect(spare[0]).toContain('MISSED (median of 1 rounds 1.50x)')
    expect(spare[1]).toContain('used at most 2.30 of 8 cores: the cores were not full')
    const met = bench.ceilingVerdict({rounds: 1, threads: [1, 2], results: [[row(1, 100_000, 1, 0.3, 100_000), row(2, 185_000, 1.9, 0.3)]]}, 4)
    expect(met[0]).toContain('MET (median of 1 rounds 1.85x)')
    expect(met[1]).toBe('  target: one thread >= the previous 112,000 tokens per client CPU-s (another run) -> MISSED (100,000-100,000)')
  })
})

describe('fakeLlamaServerScript: a stamping source capplan can start as its llama-server', () => {
  it('takes --host and --port among llama-server flags, serves stamped chunks, writes its log when stopped', async () => {
    const {mkdtempSync, readFileSync, writeFileSync} = await import('node:fs')
    const {tmpdir} = await import('node:os')
    const path = await import('node:path')
    const {spawn} = await import('node:child_process')
    const {findFreePort} = await import('../../../src/lib/ports.js')
    const dir = mkdtempSync(path.join(tmpdir(), 'fake-llama-'))
    const stamps = path.join(dir, "it's stamps.json") // a quote in the path: the script must quote it
    const script = path.join(dir, 'llama-server')
    writeFileSync(script, bench.fakeLlamaServerScript(stamps, 1), {mode: 0o755})
    const port = await findFreePort('127.0.0.1')
    const child = spawn(script, ['--model', 'm.gguf', '--threads', '2', '--host', '127.0.0.1', '--port', String(port), '-fa', 'auto'], {stdio: 'ignore'})
    try {
      let health = 0
      for (let i = 0; i < 100 && health !== 200; i++) {
        health = await fetch(`http://127.0.0.1:${port}/health`).then(
          (r) => r.status,
          () => 0,
        )
        if (health !== 200) await new Promise((resolve) => setTimeout(resolve, 100))
      }
      expect(health).toBe(200)
      const body = await (await fetch(`http://127.0.0.1:${port}/completion`, {method: 'POST', body: JSON.stringify({prompt: [1, 2], n_predict: 3, stream: true})})).text()
      const sent = [...body.matchAll(/"content":"t=(\d+\.\d{3})"/g)].map((m) => m[1])
      expect(sent).toHaveLength(3)
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
      expect(JSON.parse(readFileSync(stamps, 'utf8'))).toEqual({streams: [{maxTokens: 3, sentAt: sent}]})
    } finally {
      child.kill('SIGKILL')
    }
  })
})
