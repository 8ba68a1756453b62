import {readFileSync} from 'node:fs'
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'

import {describe, expect, it} from 'vitest'

import {serverMetricsSchema} from '../../../src/results/schema.js'
import {deltaTotal, histogramMean, parsePrometheusText, sampleKey, scrapeMetrics, serverMetricsFrom, summarizeServerMetrics} from '../../../src/telemetry/prometheus.js'

const fixture = (path: string) => readFileSync(new URL(`../../fixtures/${path}`, import.meta.url), 'utf8')

describe('parsePrometheusText', () => {
  it('reads names, sorted labels with escapes, special values and timestamps, and skips junk lines', () => {
    const scrape = parsePrometheusText(
      [
        '# HELP x_total Things.',
        '# TYPE x_total counter',
        'x_total{b="2",a="q\\"uo\\\\te\\nnl"} 3.5 1700000000000',
        'up 1',
        'h_bucket{le="+Inf"} +Inf',
        'g NaN',
        'neg -2e-3',
        'this is not a sample',
        'broken{a="unterminated} 1',
        'novalue{a="1"}',
        '',
      ].join('\n'),
    )
    expect(scrape.types.get('x_total')).toBe('counter')
    expect(scrape.skippedLines).toBe(3)
    expect(scrape.samples.map((s) => s.name)).toEqual(['x_total', 'up', 'h_bucket', 'g', 'neg'])
    expect(scrape.samples[0]!.labels).toEqual({b: '2', a: 'q"uo\\te\nnl'})
    expect(scrape.samples[0]!.value).toBe(3.5)
    expect(scrape.samples[2]!.value).toBe(Number.POSITIVE_INFINITY)
    expect(Number.isNaN(scrape.samples[3]!.value)).toBe(true)
    expect(scrape.samples[4]!.value).toBe(-0.002)
    expect(sampleKey('x_total', scrape.samples[0]!.labels)).toBe('x_total{a="q\\"uo\\\\te\\nnl",b="2"}')
  })

  it('reads histogram buckets with their le label (vLLM-shaped scrape)', () => {
    const scrape = parsePrometheusText(fixture('vllm/metrics_after.txt'))
    expect(scrape.skippedLines).toBe(0)
    expect(scrape.types.get('vllm:time_to_first_token_seconds')).toBe('histogram')
    const buckets = scrape.samples.filter((s) => s.name === 'vllm:time_to_first_token_seconds_bucket')
    // 13 finite bounds (0.001 .. 2.5) + le="+Inf"
    expect(buckets).toHaveLength(14)
    expect(buckets[7]).toEqual({name: 'vllm:time_to_first_token_seconds_bucket', labels: {engine: '0', le: '0.1', model_name: 'Qwen/Qwen2.5-72B-Instruct-AWQ'}, value: 3})
    expect(buckets.at(-1)!.labels.le).toBe('+Inf')
    expect(buckets.at(-1)!.value).toBe(32)
  })

  it('reads every sample of the real llama-server scrape (14 metrics, no labels)', () => {
    const scrape = parsePrometheusText(fixture('llama-server/metrics_after.txt'))
    expect(scrape.skippedLines).toBe(0)
    expect(scrape.samples).toHaveLength(14)
    expect(scrape.types.get('llamacpp:n_busy_slots_per_decode')).toBe('gauge')
  })
})

describe('serverMetricsFrom on the REAL llama-server scrapes (fixtures/llama-server)', () => {
  const metrics = serverMetricsFrom(fixture('llama-server/metrics_before.txt'), fixture('llama-server/metrics_after.txt'))

  it('stores before, after and deltas in the result-file shape', () => {
    expect(serverMetricsSchema.parse(metrics)).toEqual(metrics)
    expect(metrics.source).toBe('llamacpp')
    expect(Object.keys(metrics.after)).toHaveLength(14)
    // before is all zeros, so each delta is the after value itself.
    expect(metrics.deltas['llamacpp:prompt_tokens_total']).toBe(535)
    expect(metrics.deltas['llamacpp:tokens_predicted_total']).toBe(144)
    expect(metrics.deltas['llamacpp:n_decode_total']).toBe(113)
    expect(metrics.deltas['llamacpp:prompt_seconds_total']).toBe(2.918)
    expect(metrics.deltas['llamacpp:tokens_predicted_seconds_total']).toBe(3.565)
    expect(metrics.deltas['llamacpp:n_busy_slots_per_decode']).toBe(1.27434)
  })

  it('derives the server speeds, which agree with the gauges llama-server computed itself', () => {
    const summary = summarizeServerMetrics(metrics)
    expect(summary.promptTokens).toBe(535)
    expect(summary.outputTokens).toBe(144)
    expect(summary.decodeCalls).toBe(113)
    // 144 / 3.565 = 40.39271 (the gauge llamacpp:predicted_tokens_seconds says 40.3927)
    expect(summary.serverDecodeTokensPerS).toBeCloseTo(40.3927, 4)
    // 535 / 2.918 = 183.3448 (gauge llamacpp:prompt_tokens_seconds 183.345)
    expect(summary.serverPromptTokensPerS).toBeCloseTo(183.345, 3)
    expect(summary.meanTtftS).toBeNull()
  })

  it('a scrape compared with itself has all-zero deltas', () => {
    const same = serverMetricsFrom(fixture('llama-server/metrics_after.txt'), fixture('llama-server/metrics_after.txt'))
    expect(Object.values(same.deltas).every((d) => d === 0)).toBe(true)
    expect(Object.keys(same.deltas)).toHaveLength(14)
  })
})

describe('serverMetricsFrom on vLLM-shaped scrapes (fixtures/vllm, see its README)', () => {
  const metrics = serverMetricsFrom(fixture('vllm/metrics_before.txt'), fixture('vllm/metrics_after.txt'))
  const labels = 'engine="0",model_name="Qwen/Qwen2.5-72B-Instruct-AWQ"'

  it('keeps vllm:* counters, gauges and histogram _sum/_count; drops buckets, _created and python_gc_*', () => {
    expect(serverMetricsSchema.parse(metrics)).toEqual(metrics)
    expect(metrics.source).toBe('vllm')
    const keys = Object.keys(metrics.after)
    expect(keys.some((k) => k.includes('_bucket') || k.includes('_created') || k.startsWith('python_'))).toBe(false)
    // 3 gauges + 5 counters + 3 request_success + 6 histograms x 2
    expect(keys).toHaveLength(23)
    expect(metrics.deltas[`vllm:generation_tokens_total{${labels}}`]).toBe(1024) // 2048 - 1024
    expect(metrics.deltas[`vllm:request_success_total{engine="0",finished_reason="length",model_name="Qwen/Qwen2.5-72B-Instruct-AWQ"}`]).toBe(16)
    // 55.44 - 25.2 = 30.24 exactly, without the float noise 30.240000000000002
    expect(metrics.deltas[`vllm:inter_token_latency_seconds_sum{${labels}}`]).toBe(30.24)
  })

  it('sums label sets and turns histogram deltas into window means', () => {
    expect(deltaTotal(metrics.deltas, 'vllm:request_success_total')).toBe(16) // 0 + 16 + 0
    expect(histogramMean(metrics.deltas, 'vllm:time_to_first_token_seconds')).toBeCloseTo(0.15, 12) // 2.4 / 16
    const summary = summarizeServerMetrics(metrics)
    expect(summary).toMatchObject({source: 'vllm', promptTokens: 2048, outputTokens: 1024, preemptions: 2})
    expect(summary.prefixCacheHitRate).toBe(0.015625) // 32 / 2048
    expect(summary.meanItlS).toBeCloseTo(0.03, 12) // 30.24 / 1008
    expect(summary.meanE2eS).toBeCloseTo(2.04, 12) // 32.64 / 16
    expect(summary.meanQueueS).toBeCloseTo(0.02, 12) // 0.32 / 16
    expect(summary.meanPrefillS).toBeCloseTo(0.13, 12) // 2.08 / 16
    expect(summary.meanDecodeS).toBeCloseTo(1.89, 12) // 30.24 / 16
    expect(summary.decodeCalls).toBeNull()
  })

  it('falls back to the older time_per_output_token_seconds name for ITL', () => {
    const older = summarizeServerMetrics({
      source: 'vllm',
      before: {},
      after: {},
      deltas: {'vllm:time_per_output_token_seconds_sum{engine="0"}': 6, 'vllm:time_per_output_token_seconds_count{engine="0"}': 200},
    })
    expect(older.meanItlS).toBe(0.03) // 6 / 200
  })
})

describe('scrapeMetrics', () => {
  it('returns the text on 200 and a note (never a throw) on an HTTP error or a dead port', async () => {
    const server = createServer((req, res) => {
      if (req.url === '/metrics') {
        res.writeHead(200, {'content-type': 'text/plain'}).end(fixture('llama-server/metrics_after.txt'))
      } else {
        res.writeHead(501).end('{"error":{"code":501,"message":"This server does not support metrics endpoint."}}')
      }
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const {port} = server.address() as AddressInfo
    try {
      const ok = await scrapeMetrics(`http://127.0.0.1:${port}/metrics`)
      expect(ok.ok && parsePrometheusText(ok.text).samples.length).toBe(14)
      const refused = await scrapeMetrics(`http://127.0.0.1:${port}/nometrics`)
      expect(refused).toEqual({ok: false, note: expect.stringContaining('HTTP 501 (llama-server needs --metrics)') as string})
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
    const dead = await scrapeMetrics(`http://127.0.0.1:${port}/metrics`, 2000)
    expect(dead.ok).toBe(false)
  })

  it('retries once when the connection drops (a stale keep-alive socket) and then reads the metrics', async () => {
    let connections = 0
    const server = createServer((req, res) => {
      connections++
      // The first request's socket dies without an answer, as a server-closed keep-alive socket does.
      if (connections === 1) req.socket.destroy()
      else res.writeHead(200, {'content-type': 'text/plain'}).end(fixture('llama-server/metrics_after.txt'))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const {port} = server.address() as AddressInfo
    try {
      const ok = await scrapeMetrics(`http://127.0.0.1:${port}/metrics`)
      expect(connections).toBe(2)
      expect(ok.ok && parsePrometheusText(ok.text).samples.length).toBe(14)
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
