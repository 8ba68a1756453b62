import os from 'node:os'

import {describe, expect, it} from 'vitest'

import {createProfileStore} from '../../../src/profiles/store.js'
import {loadProfiles} from '../../../src/profiles/load.js'
import {hostSnapshotSchema} from '../../../src/results/schema.js'
import {detectHostGpuProfileId, parseNvidiaSmiGpus, physicalCoreCount, snapshotHost} from '../../../src/telemetry/host.js'

describe('parseNvidiaSmiGpus', () => {
  // Shape of `nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader,nounits` on an
  // 8x H100 node, as printed in public test suites (e.g. "NVIDIA H100 80GB HBM3, 81559, 550.90.07");
  // unified-memory parts print [N/A] for memory.total. No GPU was available to record our own.
  it('reads name, VRAM (MiB) and driver per line', () => {
    const csv = 'NVIDIA H100 80GB HBM3, 81559, 550.90.07\nNVIDIA H100 80GB HBM3, 81559, 550.90.07\n'
    expect(parseNvidiaSmiGpus(csv)).toEqual([
      {vendor: 'NVIDIA', model: 'NVIDIA H100 80GB HBM3', vramMiB: 81_559, driver: '550.90.07'},
      {vendor: 'NVIDIA', model: 'NVIDIA H100 80GB HBM3', vramMiB: 81_559, driver: '550.90.07'},
    ])
  })

  it('[N/A] memory becomes null; empty output is no GPU', () => {
    expect(parseNvidiaSmiGpus('NVIDIA GB10, [N/A], 580.95.05')[0]!.vramMiB).toBeNull()
    expect(parseNvidiaSmiGpus('\n')).toEqual([])
  })
})

describe('detectHostGpuProfileId', () => {
  it('matches the host GPU name to a built-in GPU profile, or null', async () => {
    const store = await loadProfiles()
    const host = await snapshotHost()
    const withH100 = {...host, gpus: parseNvidiaSmiGpus('NVIDIA H100 80GB HBM3, 81559, 550.90.07')}
    expect(detectHostGpuProfileId(store, withH100)).toBe('h100-sxm')
    expect(detectHostGpuProfileId(store, {...host, gpus: []})).toBeNull()
    expect(detectHostGpuProfileId(createProfileStore([]), withH100)).toBeNull()
  })
})

describe('snapshotHost (this machine)', () => {
  it('is schema-valid and agrees with Node on memory, cores and platform', async () => {
    const host = await snapshotHost()
    expect(hostSnapshotSchema.safeParse(host).success).toBe(true)
    expect(host.memoryBytes).toBe(os.totalmem())
    expect(host.cpu.logicalCores).toBe(os.cpus().length)
    expect(host.cpu.physicalCores).toBeGreaterThanOrEqual(1)
    expect(host.cpu.physicalCores).toBeLessThanOrEqual(host.cpu.logicalCores)
    expect(host.os.platform).toBe(process.platform)
    expect(host.node.version).toBe(process.version)
    expect(host.hostname).toBe(os.hostname())
  })

  it('physicalCoreCount never exceeds the CPUs this process may use', async () => {
    const cores = await physicalCoreCount()
    expect(cores).toBeGreaterThanOrEqual(1)
    expect(cores).toBeLessThanOrEqual(os.availableParallelism())
  })
})
