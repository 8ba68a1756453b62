/** The name of a result file on disk: sortable by time, saying the machine, model, quantization and engine. */

import type {ResultFile} from './schema.js'

/** Lower-case, filesystem-safe piece of a file name: letters, digits, "." and "-" only. */
function slug(text: string, maxLength = 40): string {
  const cleaned = text
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, maxLength)
    .replace(/[-.]+$/g, '')
  return cleaned.length > 0 ? cleaned : 'unknown'
}

/** "2026-11-22T06:15:00.123Z" -> "20261122T061500Z" (UTC, sortable, no ":" which Windows forbids). */
function compactUtc(iso: string): string {
  const date = new Date(iso)
  const text = Number.isNaN(date.getTime()) ? new Date(0).toISOString() : date.toISOString()
  return `${text.slice(0, 19).replace(/[-:]/g, '')}Z`
}

/**
 * Name of a result file: time + host + gpu-or-cpu + model + quant + engine, sortable by time, e.g.
 * 20261122T061500Z_myhost_cpu_qwen2.5-0.5b_int4_embedded.json
 */
export function resultFileName(result: ResultFile): string {
  const usesGpu = result.engine.gpuCount > 0
  const device =
    result.gpuProfile ?? (usesGpu && result.host.gpus[0] !== undefined ? result.host.gpus[0].model : 'cpu')
  const parts = [
    compactUtc(result.createdAt),
    slug(result.host.hostname, 32),
    slug(device),
    slug(result.model.profile),
    slug(result.model.quant),
    slug(result.engine.kind),
  ]
  return `${parts.join('_')}.json`
}
