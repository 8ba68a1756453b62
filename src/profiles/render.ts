import Table from 'cli-table3'

import type {ProfileOrigin} from './files.js'
import type {ProfileStore} from './store.js'
import type {ApiProfile, GpuPrice, GpuProfile, ModelProfile, ProfileKind, ProfileOfKind, WorkloadProfile} from './schema.js'

/** One profile as `profiles list/show --json` print it: the profile itself is nested so its own fields never clash. */
export interface ProfileListing<K extends ProfileKind = ProfileKind> {
  kind: K
  id: string
  source: {origin: ProfileOrigin; file: string}
  profile: ProfileOfKind<K>
}

export function listingOf<K extends ProfileKind>(store: ProfileStore, kind: K, id: string): ProfileListing<K> {
  return {kind, id, source: {origin: store.originOf(kind, id), file: store.sourceOf(kind, id)}, profile: store.get(kind, id)}
}

const dash = '-'
const num = (value: number | null | undefined) => (value === null || value === undefined ? dash : String(value))
/** Dollars with cents, more digits only when the price has them (AWS's 1.006 stays 1.006). */
const dollars = (value: number) => (Number(value.toFixed(2)) === value ? value.toFixed(2) : String(value))
const usd = (price: GpuPrice | null) => (price === null ? dash : dollars(price.usdPerHour))
const idCell = (store: ProfileStore, kind: ProfileKind, id: string) => (store.originOf(kind, id) === 'user' ? `${id} (user)` : id)

/** Plain table (no colours): output is read by people and by tests alike. */
function table(head: string[], rows: string[][]): string {
  const t = new Table({head, style: {head: [], border: [], compact: true}})
  t.push(...rows)
  return t.toString()
}

function gpuRows(store: ProfileStore, gpus: GpuProfile[]): string[][] {
  return gpus.map((g) => [
    idCell(store, 'gpu', g.id),
    g.name,
    num(g.memoryGB),
    num(g.memoryBandwidthTBs),
    num(g.tflops.fp16),
    usd(g.prices['on-demand']),
    usd(g.prices.spot),
    usd(g.prices.reserved),
    g.confidence,
  ])
}

function modelRows(store: ProfileStore, models: ModelProfile[]): string[][] {
  return models.map((m) => [
    idCell(store, 'model', m.id),
    m.architecture,
    m.params.activeB === m.params.totalB ? `${m.params.totalB}` : `${m.params.totalB} / ${m.params.activeB}`,
    String(m.layers),
    String(m.hiddenSize),
    `${m.attentionHeads} / ${m.kvHeads}${m.mla ? ' (MLA)' : ''}`,
    m.moe ? `${m.moe.activeExperts} of ${m.moe.experts}${m.moe.sharedExperts > 0 ? ` + ${m.moe.sharedExperts}` : ''}` : dash,
    String(m.contextLength),
  ])
}

function apiRows(store: ProfileStore, apis: ApiProfile[]): string[][] {
  return apis.map((a) => [
    idCell(store, 'api', a.id),
    a.provider,
    dollars(a.price.inputPerMTok),
    a.price.cachedInputPerMTok === undefined ? dash : dollars(a.price.cachedInputPerMTok),
    dollars(a.price.outputPerMTok),
    a.price.date,
    a.variants.length === 0 ? dash : a.variants.map((v) => `@${v.id} ${v.inputPerMTok}/${v.outputPerMTok}`).join('\n'),
  ])
}

function workloadRows(store: ProfileStore, workloads: WorkloadProfile[]): string[][] {
  return workloads.map((w) => [
    idCell(store, 'workload', w.id),
    String(w.inputTokens),
    String(w.outputTokens),
    `${Number((w.inputTokens / w.outputTokens).toFixed(2))}:1`,
    num(w.slo.ttftP95Ms),
    num(w.slo.tpotP95Ms),
    num(w.slo.e2eP95Ms),
  ])
}

/** The `profiles list` table for one kind: the facts a planner compares at a glance. */
export function renderProfileTable(store: ProfileStore, kind: ProfileKind): string {
  switch (kind) {
    case 'gpu': {
      return table(
        ['gpu', 'name', 'memory GB', 'TB/s', 'FP16 TFLOPS', 'on-demand $/h', 'spot $/h', 'reserved $/h', 'confidence'],
        gpuRows(store, store.list('gpu')),
      )
    }
    case 'model': {
      return table(
        ['model', 'arch', 'params B (total / active)', 'layers', 'hidden', 'heads / kv', 'experts', 'context'],
        modelRows(store, store.list('model')),
      )
    }
    case 'api': {
      return table(
        ['api', 'provider', 'input $/1M', 'cached $/1M', 'output $/1M', 'date', 'variants (in/out)'],
        apiRows(store, store.list('api')),
      )
    }
    case 'workload': {
      return table(
        ['workload', 'input tok', 'output tok', 'in:out', 'TTFT p95 ms', 'TPOT p95 ms', 'e2e p95 ms'],
        workloadRows(store, store.list('workload')),
      )
    }
    case 'quant-loss': {
      return table(
        ['quant-loss', 'format', 'quant', 'loss by size class'],
        store.list('quant-loss').map((q) => [
          idCell(store, 'quant-loss', q.id),
          q.format,
          q.quant,
          q.entries.map((e) => `${e.sizeClass}: ${e.lossPct >= 0 ? '+' : ''}${e.lossPct}% ${e.metric}`).join('\n'),
        ]),
      )
    }
    case 'calibration': {
      return table(
        ['calibration', 'rows', 'models', 'GPUs', 'engines', 'source read'],
        store.list('calibration').map((c) => [
          idCell(store, 'calibration', c.id),
          String(c.measurements.length),
          [...new Set(c.measurements.map((m) => m.model))].join(', '),
          [...new Set(c.measurements.map((m) => m.gpu))].join(', '),
          [...new Set(c.measurements.map((m) => m.engine))].join(', '),
          c.source.read,
        ]),
      )
    }
  }
}
