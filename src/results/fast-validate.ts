/**
 * The readers' fast path: a plain-code check of a parsed result file that is never more lenient than the zod
 * schema (schema.ts), so that `report` over thousands of files does not pay zod's copy of each.
 */

import {quantLevels} from '../profiles/schema.js'
import {clientHealthSchema} from './client-health.js'
import {reportedLatencySchema} from './reported-latency.js'
import {servingRecordSchema} from './serving.js'
import {
  engineKinds,
  levelStatuses,
  levelSummarySchema,
  levelTelemetrySchema,
  loadKinds,
  promptSources,
  RESULT_SCHEMA_VERSION,
  requestErrorKinds,
  type ResultFile,
  resultFileSchema,
  type ResultFileV1,
  type ResultFileV2,
  runStatuses,
  serverMetricsSchema,
} from './schema.js'
import {levelCacheSchema, requestSessionSchema, workloadShapeSchema} from './workload-shape.js'

/*
 * `capplan report` reads thousands of result files; zod's parse of one realistic file costs about as much as
 * JSON.parse of it (it copies every object, and most of a file is per-level requests and summaries). The
 * check below is a plain-code mirror of resultFileSchema, delegating only the id, the dates and the rare
 * parts (goodput, telemetry, /metrics) to the zod schemas of schema.ts.
 *
 * Contract (what keeps behaviour identical): it is never MORE lenient than resultFileSchema. `true` means
 * resultFileSchema would accept the value unchanged (no transforms or defaults in it, so its output equals
 * its input); `false` means "not sure", and the reader runs resultFileSchema, which decides and names the
 * field path of every violation. A change to schema.ts that rejects more must be mirrored here
 * (test/unit/results/fast-check.test.ts compares the two on mutated files); one that accepts more is safe.
 */

type Json = Record<string, unknown>

const isRecord = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value)

/** Exactly the keys of a strictObject: every required key present, nothing unknown. */
function hasExactKeys(value: Json, required: readonly string[], optional: readonly string[] = []): boolean {
  let known = 0
  for (const key of required) {
    if (!Object.hasOwn(value, key) || value[key] === undefined) return false
    known++
  }
  for (const key of optional) if (Object.hasOwn(value, key)) known++
  return Object.keys(value).length === known
}

// Safe integers only: zod's .int() accepts no more than these.
const isFiniteNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value)
const isNonNegative = (value: unknown): value is number => isFiniteNumber(value) && value >= 0
const isNonNegativeInt = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0
const isPositiveInt = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) > 0
const isStringArray = (value: unknown): boolean => Array.isArray(value) && value.every((item) => typeof item === 'string')
const isOneOf = (options: readonly string[], value: unknown): boolean => typeof value === 'string' && options.includes(value)

/** Same rule as schema.ts's nonNegativeNumberArray. */
function isNonNegativeNumberArray(value: unknown, integers: boolean): value is number[] {
  if (!Array.isArray(value)) return false
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i]
    if (typeof item !== 'number' || !(item >= 0) || item === Number.POSITIVE_INFINITY || (integers && !Number.isSafeInteger(item))) return false
  }
  return true
}

/** chunkOffsetsMs in one pass: finite numbers >= 0 (nonNegativeNumberArray) and non-decreasing (the superRefine). */
function isNonDecreasingOffsets(value: unknown): value is number[] {
  if (!Array.isArray(value)) return false
  let previous = 0
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i]
    // !(item >= previous) also rejects NaN; previous starts at 0, so every item is >= 0.
    if (typeof item !== 'number' || !(item >= previous) || item === Number.POSITIVE_INFINITY) return false
    previous = item
  }
  return true
}

const requestKeys = ['index', 'startMs', 'ttftMs', 'e2eMs', 'inputTokens', 'outputTokens', 'countedTokens', 'chunkOffsetsMs', 'chunkTokens', 'error'] as const

const requestOptionalKeys = ['cachedTokens', 'session'] as const

function isRequestRecord(request: unknown): boolean {
  if (!isRecord(request) || !hasExactKeys(request, requestKeys, requestOptionalKeys)) return false
  const {chunkOffsetsMs, chunkTokens, error, cachedTokens, session} = request
  if (!(cachedTokens === undefined || cachedTokens === null || isNonNegativeInt(cachedTokens))) return false
  if (session !== undefined && !requestSessionSchema.safeParse(session).success) return false
  if (
    !isNonNegativeInt(request['index']) ||
    !isFiniteNumber(request['startMs']) ||
    !(request['ttftMs'] === null || isNonNegative(request['ttftMs'])) ||
    !(request['e2eMs'] === null || isNonNegative(request['e2eMs'])) ||
    !isNonNegativeInt(request['inputTokens']) ||
    !isNonNegativeInt(request['outputTokens']) ||
    !isNonNegativeInt(request['countedTokens']) ||
    !isNonDecreasingOffsets(chunkOffsetsMs)
  ) {
    return false
  }
  if (chunkTokens !== null && !(isNonNegativeNumberArray(chunkTokens, true) && chunkTokens.length === chunkOffsetsMs.length)) return false
  return (
    error === null ||
    (isRecord(error) && hasExactKeys(error, ['kind', 'message']) && isOneOf(requestErrorKinds, error['kind']) && typeof error['message'] === 'string')
  )
}

const distributionKeys = ['count', 'mean', 'stdev', 'min', 'p50', 'p90', 'p95', 'p99', 'max'] as const

function isDistributionOrNull(value: unknown): boolean {
  if (value === null) return true
  if (!isRecord(value) || !hasExactKeys(value, distributionKeys) || !isPositiveInt(value['count']) || !isNonNegative(value['stdev'])) return false
  return isFiniteNumber(value['mean']) && isFiniteNumber(value['min']) && isFiniteNumber(value['p50']) && isFiniteNumber(value['p90']) &&
    isFiniteNumber(value['p95']) && isFiniteNumber(value['p99']) && isFiniteNumber(value['max'])
}

const summaryKeys = [
  'requests', 'durationS', 'throughput', 'ttftMs', 'tpotMs', 'itlMsPerToken', 'itlMsPerChunk', 'e2eMs', 'perUserTokensPerS', 'goodput',
  'errors', 'tokenMismatches',
] as const
const throughputKeys = ['outputTokensPerS', 'inputTokensPerS', 'totalTokensPerS', 'requestsPerS'] as const

function isLevelSummary(summary: unknown): boolean {
  if (!isRecord(summary) || !hasExactKeys(summary, summaryKeys)) return false
  const {requests, throughput, errors} = summary
  if (!isRecord(requests) || !hasExactKeys(requests, ['completed', 'failed']) || !isNonNegativeInt(requests['completed']) || !isNonNegativeInt(requests['failed'])) {
    return false
  }
  if (!isRecord(throughput) || !hasExactKeys(throughput, throughputKeys) || !throughputKeys.every((key) => isNonNegative(throughput[key]))) return false
  if (!isRecord(errors)) return false
  for (const key of Object.keys(errors)) if (!isOneOf(requestErrorKinds, key) || !isPositiveInt(errors[key])) return false
  return (
    isNonNegative(summary['durationS']) &&
    isDistributionOrNull(summary['ttftMs']) &&
    isDistributionOrNull(summary['tpotMs']) &&
    isDistributionOrNull(summary['itlMsPerToken']) &&
    isDistributionOrNull(summary['itlMsPerChunk']) &&
    isDistributionOrNull(summary['e2eMs']) &&
    (summary['perUserTokensPerS'] === null || isNonNegative(summary['perUserTokensPerS'])) &&
    isNonNegativeInt(summary['tokenMismatches']) &&
    (summary['goodput'] === null || levelSummarySchema.shape.goodput.safeParse(summary['goodput']).success)
  )
}

const levelKeys = ['load', 'warmupRequests', 'window', 'status', 'requests', 'summary', 'telemetry', 'serverMetrics'] as const

const levelOptionalKeys = ['cache', 'clientHealth', 'reported'] as const

function isLevelRecord(level: unknown): boolean {
  if (!isRecord(level) || !hasExactKeys(level, levelKeys, levelOptionalKeys)) return false
  if (level['cache'] !== undefined && !levelCacheSchema.safeParse(level['cache']).success) return false
  if (level['clientHealth'] !== undefined && !clientHealthSchema.safeParse(level['clientHealth']).success) return false
  if (level['reported'] !== undefined && !reportedLatencySchema.safeParse(level['reported']).success) return false
  const {load, window, requests} = level
  if (!isRecord(load) || !hasExactKeys(load, ['kind', 'value']) || !isOneOf(loadKinds, load['kind']) || !(isFiniteNumber(load['value']) && load['value'] > 0)) {
    return false
  }
  if (!isRecord(window) || !hasExactKeys(window, ['startMs', 'endMs']) || !isFiniteNumber(window['startMs']) || !isFiniteNumber(window['endMs'])) return false
  if (window['endMs'] < window['startMs'] || !Array.isArray(requests) || !requests.every(isRequestRecord)) return false
  return (
    isNonNegativeInt(level['warmupRequests']) &&
    isOneOf(levelStatuses, level['status']) &&
    isLevelSummary(level['summary']) &&
    (level['telemetry'] === null || levelTelemetrySchema.safeParse(level['telemetry']).success) &&
    (level['serverMetrics'] === null || serverMetricsSchema.safeParse(level['serverMetrics']).success)
  )
}

const isStringOrNull = (value: unknown): boolean => value === null || typeof value === 'string'

function isHostSnapshot(host: unknown): boolean {
  if (!isRecord(host) || !hasExactKeys(host, ['hostname', 'cpu', 'memoryBytes', 'os', 'node', 'gpus'])) return false
  const {cpu, os, node, gpus} = host
  return (
    typeof host['hostname'] === 'string' &&
    isNonNegativeInt(host['memoryBytes']) &&
    isRecord(cpu) && hasExactKeys(cpu, ['model', 'physicalCores', 'logicalCores']) &&
    typeof cpu['model'] === 'string' && isPositiveInt(cpu['physicalCores']) && isPositiveInt(cpu['logicalCores']) &&
    isRecord(os) && hasExactKeys(os, ['platform', 'distro', 'release', 'kernel', 'arch']) &&
    ['platform', 'distro', 'release', 'kernel', 'arch'].every((key) => typeof os[key] === 'string') &&
    isRecord(node) && hasExactKeys(node, ['version']) && typeof node['version'] === 'string' &&
    Array.isArray(gpus) &&
    gpus.every(
      (gpu) =>
        isRecord(gpu) && hasExactKeys(gpu, ['vendor', 'model', 'vramMiB', 'driver']) && typeof gpu['vendor'] === 'string' &&
        typeof gpu['model'] === 'string' && (gpu['vramMiB'] === null || isNonNegativeInt(gpu['vramMiB'])) && isStringOrNull(gpu['driver']),
    )
  )
}

const engineKeys = ['kind', 'version', 'build', 'backend', 'threads', 'gpuCount', 'args', 'endpoint'] as const
const isEngineInfo = (engine: unknown): boolean =>
  isRecord(engine) && hasExactKeys(engine, engineKeys) && isOneOf(engineKinds, engine['kind']) && isStringOrNull(engine['version']) &&
  isStringOrNull(engine['build']) && typeof engine['backend'] === 'string' && (engine['threads'] === null || isPositiveInt(engine['threads'])) &&
  isNonNegativeInt(engine['gpuCount']) && isStringArray(engine['args']) && isStringOrNull(engine['endpoint'])

const modelKeys = ['profile', 'quant', 'format', 'file', 'repo', 'sha256', 'bytes', 'paramsB', 'synthetic'] as const
const isModelInfo = (model: unknown): boolean =>
  isRecord(model) && hasExactKeys(model, modelKeys) && typeof model['profile'] === 'string' && model['profile'].length > 0 &&
  isOneOf(quantLevels, model['quant']) && typeof model['format'] === 'string' && model['format'].length > 0 && isStringOrNull(model['file']) &&
  isStringOrNull(model['repo']) && (model['sha256'] === null || (typeof model['sha256'] === 'string' && /^[0-9a-f]{64}$/.test(model['sha256']))) &&
  (model['bytes'] === null || isNonNegativeInt(model['bytes'])) && isFiniteNumber(model['paramsB']) && model['paramsB'] > 0 &&
  typeof model['synthetic'] === 'boolean'

const workloadKeys = ['profile', 'inputTokens', 'outputTokens', 'promptSource', 'dataset', 'seed', 'ignoreEos'] as const
const isWorkloadInfo = (workload: unknown): boolean =>
  isRecord(workload) && hasExactKeys(workload, workloadKeys, ['shape']) &&
  (workload['shape'] === undefined || workloadShapeSchema.safeParse(workload['shape']).success) && isStringOrNull(workload['profile']) && isPositiveInt(workload['inputTokens']) &&
  isPositiveInt(workload['outputTokens']) && isOneOf(promptSources, workload['promptSource']) && isStringOrNull(workload['dataset']) &&
  Number.isSafeInteger(workload['seed']) && typeof workload['ignoreEos'] === 'boolean'

const resultKeys = [
  'schemaVersion', 'id', 'createdAt', 'finishedAt', 'capplan', 'host', 'engine', 'model', 'gpuProfile', 'workload', 'levels', 'status', 'notes',
] as const

/** Everything but the version-specific fields (schemaVersion, capplan.command), for both versions read. */
function certainlyMatchesBody(value: unknown, version: number, isCommand: (command: unknown) => boolean): boolean {
  if (!isRecord(value) || !hasExactKeys(value, resultKeys, ['serving']) || value['schemaVersion'] !== version) return false
  if (value['serving'] !== undefined && !servingRecordSchema.safeParse(value['serving']).success) return false
  const {capplan, levels} = value
  if (!isRecord(capplan) || !hasExactKeys(capplan, ['version', 'command']) || typeof capplan['version'] !== 'string' || !isCommand(capplan['command'])) {
    return false
  }
  if (!Array.isArray(levels) || !levels.every(isLevelRecord)) return false
  const shape = resultFileSchema.shape
  return (
    (value['gpuProfile'] === null || typeof value['gpuProfile'] === 'string') &&
    isOneOf(runStatuses, value['status']) &&
    isStringArray(value['notes']) &&
    shape.id.safeParse(value['id']).success &&
    shape.createdAt.safeParse(value['createdAt']).success &&
    shape.finishedAt.safeParse(value['finishedAt']).success &&
    isHostSnapshot(value['host']) &&
    isEngineInfo(value['engine']) &&
    isModelInfo(value['model']) &&
    isWorkloadInfo(value['workload'])
  )
}

/**
 * true: `value` certainly matches resultFileSchema (use it as is). false: not certain — run resultFileSchema,
 * which gives the verdict and the paths. See the contract above.
 */
export function certainlyMatchesResultFileSchema(value: unknown): value is ResultFile {
  return certainlyMatchesBody(value, RESULT_SCHEMA_VERSION, isStringArray)
}

/** The same for resultFileV2Schema: version 3's fields are optional, so the body check is the same. */
export function certainlyMatchesResultFileV2Schema(value: unknown): value is ResultFileV2 {
  return certainlyMatchesBody(value, 2, isStringArray)
}

/** The same for resultFileV1Schema (the command a string): report still reads thousands of version 1 files. */
export function certainlyMatchesResultFileV1Schema(value: unknown): value is ResultFileV1 {
  return certainlyMatchesBody(value, 1, (command) => typeof command === 'string')
}
