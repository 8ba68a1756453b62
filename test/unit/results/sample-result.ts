import {type LevelRecord, type RequestRecord, RESULT_SCHEMA_VERSION, type ResultFile} from '../../../src/results/schema.js'
import {summarizeLevel} from '../../../src/stats/summarize.js'

/** A small hand-built request (timings are made up for schema/IO tests; no engine output is imitated). */
export function sampleRequest(index: number, overrides: Partial<RequestRecord> = {}): RequestRecord {
  return {
    index,
    startMs: 1000 + index * 10,
    ttftMs: 100,
    e2eMs: 400,
    inputTokens: 10,
    outputTokens: 4,
    countedTokens: 4,
    chunkOffsetsMs: [100, 200, 300, 400],
    chunkTokens: null,
    error: null,
    ...overrides,
  }
}

export function sampleLevel(concurrency: number, requestCount = 2): LevelRecord {
  const requests = Array.from({length: requestCount}, (_, index) => sampleRequest(index))
  const window = {startMs: 1000, endMs: 3000}
  return {
    load: {kind: 'concurrency', value: concurrency},
    warmupRequests: 1,
    window,
    status: 'complete',
    requests,
    summary: summarizeLevel(requests, window),
    telemetry: null,
    serverMetrics: null,
  }
}

export function sampleResult(overrides: Partial<ResultFile> = {}): ResultFile {
  return {
    schemaVersion: RESULT_SCHEMA_VERSION,
    id: '3b241101-e2bb-4255-8caf-4136c566a962',
    createdAt: '2026-11-22T06:15:00.123Z',
    finishedAt: null,
    capplan: {version: '0.1.0', command: ['capplan', 'bench', '--quant', 'int4']},
    host: {
      hostname: 'My Host',
      cpu: {model: 'Intel Xeon Processor', physicalCores: 2, logicalCores: 2},
      memoryBytes: 25_276_063_744,
      os: {platform: 'linux', distro: 'Debian GNU/Linux', release: '12', kernel: '6.1.0', arch: 'x64'},
      node: {version: 'v20.20.2'},
      gpus: [],
    },
    engine: {
      kind: 'embedded',
      version: '3.22.1',
      build: 'v0.5.0',
      backend: 'cpu',
      threads: 2,
      gpuCount: 0,
      args: [],
      endpoint: null,
    },
    model: {
      profile: 'qwen2.5-0.5b',
      quant: 'int4',
      format: 'Q4_0',
      file: '/cache/qwen2.5-0.5b-Q4_0.gguf',
      repo: null,
      sha256: 'a'.repeat(64),
      bytes: 352_000_000,
      paramsB: 0.49,
      synthetic: true,
    },
    gpuProfile: null,
    workload: {
      profile: null,
      inputTokens: 10,
      outputTokens: 4,
      promptSource: 'synthetic-token-ids',
      dataset: null,
      seed: 1,
      ignoreEos: true,
    },
    levels: [sampleLevel(1)],
    status: 'running',
    notes: [],
    ...overrides,
  }
}
