/** `capplan system`: this machine as capplan sees it (host, cores, matching GPU profile, the embedded engine's view). */

import {loadProfiles} from '../../profiles/load.js'
import type {HostSnapshot} from '../../results/schema.js'
import {probeMemoryBandwidth, type BandwidthProbe} from '../../roofline/bandwidth-probe.js'
import {detectHostGpuProfileId, physicalCoreCount, snapshotHost} from '../../telemetry/host.js'

/** What node-llama-cpp's prebuilt binaries make of this machine (the embedded engine's view). */
export interface EmbeddedEngineView {
  available: boolean
  /** 'cuda' | 'vulkan' | 'metal' | false (CPU only). */
  gpu: string | false
  supportsGpuOffloading: boolean
  cpuMathCores: number | null
  buildType: string | null
  llamaCppRelease: string | null
  /** Why the view is unavailable (load failed or timed out); null when available. */
  problem: string | null
}

export interface SystemReport {
  host: HostSnapshot
  /** GPU profile id recognized from the host's GPUs (what report costs with), or null (cpu / unknown GPU). */
  gpuProfile: string | null
  /** Threads the embedded engine uses by default: physical cores, capped by the CPUs this process may use. */
  inferenceThreads: number
  embeddedEngine: EmbeddedEngineView | null
  /** --measure-bandwidth: the probe's GB/s (single-thread copy, a lower bound); absent without the flag. */
  memoryBandwidth?: BandwidthProbe
}

const ENGINE_PROBE_TIMEOUT_MS = 20_000

async function probeEmbeddedEngine(): Promise<EmbeddedEngineView> {
  const unavailable = (problem: string): EmbeddedEngineView => ({
    available: false,
    gpu: false,
    supportsGpuOffloading: false,
    cpuMathCores: null,
    buildType: null,
    llamaCppRelease: null,
    problem,
  })
  let timer: NodeJS.Timeout | undefined
  try {
    const {getLlama, LlamaLogLevel} = await import('node-llama-cpp')
    // build:'never' + skipDownload: `system` only looks; it must never compile or fetch binaries.
    const load = getLlama({gpu: 'auto', build: 'never', skipDownload: true, progressLogs: false, logLevel: LlamaLogLevel.error})
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), ENGINE_PROBE_TIMEOUT_MS)
      timer.unref()
    })
    const llama = await Promise.race([load, timeout])
    if (llama === 'timeout') return unavailable(`node-llama-cpp did not load within ${ENGINE_PROBE_TIMEOUT_MS / 1000} s`)
    const view: EmbeddedEngineView = {
      available: true,
      gpu: llama.gpu,
      supportsGpuOffloading: llama.supportsGpuOffloading,
      cpuMathCores: llama.cpuMathCores,
      buildType: llama.buildType,
      llamaCppRelease: llama.llamaCppRelease.release,
      problem: null,
    }
    await llama.dispose()
    return view
  } catch (error) {
    return unavailable(`node-llama-cpp could not load its prebuilt binary: ${(error as Error).message}`)
  } finally {
    clearTimeout(timer)
  }
}

function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`
}

export function renderSystemReport(report: SystemReport): string[] {
  const {host} = report
  const lines = [
    `Host         ${host.hostname}`,
    `CPU          ${host.cpu.model}`,
    `Cores        ${host.cpu.physicalCores} physical, ${host.cpu.logicalCores} logical (embedded engine threads: ${report.inferenceThreads})`,
    `Memory       ${gib(host.memoryBytes)} (${host.memoryBytes} bytes)`,
    `OS           ${[host.os.distro, host.os.release].filter(Boolean).join(' ')} (${host.os.platform} ${host.os.arch}, kernel ${host.os.kernel})`,
    `Node         ${host.node.version}`,
  ]
  if (host.gpus.length === 0) lines.push('GPUs         none found')
  for (const [index, gpu] of host.gpus.entries()) {
    const vram = gpu.vramMiB === null ? 'VRAM unknown' : `${(gpu.vramMiB / 1024).toFixed(1)} GiB VRAM`
    const driver = gpu.driver === null ? '' : `, driver ${gpu.driver}`
    lines.push(`${index === 0 ? 'GPUs         ' : '             '}${gpu.vendor} ${gpu.model} (${vram}${driver})`)
  }
  lines.push(`GPU profile  ${report.gpuProfile ?? (host.gpus.length === 0 ? 'none (costs use the cpu profile)' : 'none matched (use --gpu with report)')}`)
  const engine = report.embeddedEngine
  if (engine === null) lines.push('Embedded     not probed (--skip-engine)')
  else if (!engine.available) lines.push(`Embedded     unavailable: ${engine.problem}`)
  else
    lines.push(
      `Embedded     node-llama-cpp ${engine.buildType} binary, llama.cpp ${engine.llamaCppRelease}, ` +
        `${engine.gpu === false ? 'CPU only' : `GPU ${engine.gpu}`}, offloading ${engine.supportsGpuOffloading ? 'yes' : 'no'}, ` +
        `${engine.cpuMathCores} math cores`,
    )
  if (report.memoryBandwidth !== undefined) {
    lines.push(
      `Bandwidth    ${report.memoryBandwidth.gbPerS.toFixed(1)} GB/s measured (${report.memoryBandwidth.method}); ` +
        `use it with \`capplan report --bandwidth ${report.memoryBandwidth.gbPerS.toFixed(1)}\``,
    )
  }
  return lines
}

/** The whole report; `info` hears what takes time (the bandwidth probe). */
export async function systemReport(
  options: {profilesDir: string | undefined; skipEngine: boolean; measureBandwidth: boolean},
  info: (message: string) => void,
): Promise<SystemReport> {
  const [host, inferenceThreads, store] = await Promise.all([
    snapshotHost(),
    physicalCoreCount(),
    loadProfiles(options.profilesDir === undefined ? {} : {userDir: options.profilesDir}),
  ])
  const embeddedEngine = options.skipEngine ? null : await probeEmbeddedEngine()
  const report: SystemReport = {host, gpuProfile: detectHostGpuProfileId(store, host), inferenceThreads, embeddedEngine}
  if (options.measureBandwidth) {
    info('Measuring memory bandwidth (single-thread copy)...')
    report.memoryBandwidth = probeMemoryBandwidth()
  }
  return report
}
