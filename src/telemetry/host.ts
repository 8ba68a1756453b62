import os from 'node:os'

import {execa} from 'execa'
import si from 'systeminformation'

import {detectGpuProfile, type ProfileStore} from '../profiles/store.js'
import type {GpuDevice, HostSnapshot} from '../results/schema.js'

export type {HostSnapshot} from '../results/schema.js'

/** Each probe is time-boxed: a hung lspci or driver must not stall `bench` (the whole snapshot stays < 2 s). */
const PROBE_TIMEOUT_MS = 1500

async function withTimeout<T>(promise: Promise<T>, fallback: T, timeoutMs = PROBE_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), timeoutMs)
    timer.unref()
  })
  try {
    return await Promise.race([promise.catch(() => fallback), timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Display adapters of servers and VMs that lspci lists as VGA controllers but that compute nothing. */
const virtualDisplayAdapter = /aspeed|matrox|cirrus|vmware|virtualbox|red hat|qxl|bochs|hyper-v|microsoft basic/i

/**
 * NVIDIA GPUs as nvidia-smi reports them (names there are what GPU profiles' deviceNames match).
 * Parses `nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader,nounits` output.
 */
export function parseNvidiaSmiGpus(csv: string): GpuDevice[] {
  return csv
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .map((line) => {
      const [name = '', memory = '', driver = ''] = line.split(',').map((field) => field.trim())
      const vram = Number.parseInt(memory, 10)
      return {
        vendor: 'NVIDIA',
        model: name,
        vramMiB: Number.isFinite(vram) && vram >= 0 ? vram : null,
        driver: driver === '' || /not supported|n\/a/i.test(driver) ? null : driver,
      }
    })
}

async function nvidiaSmiGpus(): Promise<GpuDevice[] | null> {
  const result = await execa('nvidia-smi', ['--query-gpu=name,memory.total,driver_version', '--format=csv,noheader,nounits'], {
    timeout: PROBE_TIMEOUT_MS,
    reject: false,
  }).catch(() => null)
  if (result === null || result.exitCode !== 0 || typeof result.stdout !== 'string') return null
  return parseNvidiaSmiGpus(result.stdout)
}

async function systeminformationGpus(): Promise<GpuDevice[]> {
  const graphics = await si.graphics()
  return graphics.controllers
    .filter((controller) => !virtualDisplayAdapter.test(`${controller.vendor} ${controller.model}`))
    .map((controller) => {
      const memory = controller.memoryTotal ?? controller.vram
      return {
        vendor: controller.vendor || 'unknown',
        model: controller.name ?? controller.model ?? 'unknown',
        vramMiB: typeof memory === 'number' && memory > 0 && !controller.vramDynamic ? Math.round(memory) : null,
        driver: controller.driverVersion ?? null,
      }
    })
}

/**
 * Cores to run CPU inference on: the physical cores, capped by the CPUs this process may use (a container
 * pinned to 2 CPUs of a 64-core host must not start 32 threads). llama.cpp runs slower on hyper-threads.
 */
export async function physicalCoreCount(): Promise<number> {
  const cpu = await withTimeout(si.cpu(), null)
  const available = os.availableParallelism()
  const physical = cpu !== null && cpu.physicalCores > 0 ? cpu.physicalCores : available
  return Math.max(1, Math.min(physical, available))
}

/** The machine a run measured: CPU, cores, memory, OS, Node, GPUs (nvidia-smi first, then systeminformation). */
export async function snapshotHost(): Promise<HostSnapshot> {
  const [cpu, osInfo, smiGpus, otherGpus] = await Promise.all([
    withTimeout(si.cpu(), null),
    withTimeout(si.osInfo(), null),
    nvidiaSmiGpus(),
    withTimeout(systeminformationGpus(), [] as GpuDevice[]),
  ])
  const logicalCores = os.cpus().length || os.availableParallelism()
  const cpuModel = cpu !== null ? `${cpu.manufacturer} ${cpu.brand}`.trim() : (os.cpus()[0]?.model ?? 'unknown')
  // nvidia-smi knows NVIDIA GPUs best (exact names, VRAM, driver); keep other vendors from systeminformation.
  const gpus = smiGpus !== null && smiGpus.length > 0 ? [...smiGpus, ...otherGpus.filter((gpu) => !/nvidia/i.test(gpu.vendor))] : otherGpus
  return {
    hostname: os.hostname(),
    cpu: {
      model: cpuModel,
      physicalCores: cpu !== null && cpu.physicalCores > 0 ? cpu.physicalCores : logicalCores,
      logicalCores,
    },
    memoryBytes: os.totalmem(),
    os: {
      platform: process.platform,
      distro: osInfo?.distro || os.type(),
      release: osInfo?.release || '',
      kernel: osInfo?.kernel || os.release(),
      arch: process.arch,
    },
    node: {version: process.version},
    gpus,
  }
}

/** The GPU profile matching the host's first recognized GPU (by nvidia-smi / rocm-smi name), or null. */
export function detectHostGpuProfileId(store: ProfileStore, host: HostSnapshot): string | null {
  for (const gpu of host.gpus) {
    const profile = detectGpuProfile(store, gpu.model)
    if (profile !== undefined) return profile.id
  }
  return null
}
