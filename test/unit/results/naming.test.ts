import {describe, expect, it} from 'vitest'

import {resultFileName} from '../../../src/results/naming.js'
import {sampleResult} from './sample-result.js'

describe('resultFileName', () => {
  it('time + host + device + model + quant + engine, filesystem-safe', () => {
    expect(resultFileName(sampleResult())).toBe('20261122T061500Z_my-host_cpu_qwen2.5-0.5b_int4_embedded.json')
  })

  it('uses the GPU profile when one was used for costing, else the GPU model when the engine used GPUs', () => {
    expect(resultFileName(sampleResult({gpuProfile: 'h100-sxm'}))).toBe(
      '20261122T061500Z_my-host_h100-sxm_qwen2.5-0.5b_int4_embedded.json',
    )
    const base = sampleResult()
    const onGpu = sampleResult({
      host: {...base.host, hostname: '../../etc', gpus: [{vendor: 'NVIDIA', model: 'NVIDIA GeForce RTX 3090', vramMiB: 24_576, driver: '550.54'}]},
      engine: {...base.engine, kind: 'llamacpp', gpuCount: 1},
    })
    expect(resultFileName(onGpu)).toBe('20261122T061500Z_etc_nvidia-geforce-rtx-3090_qwen2.5-0.5b_int4_llamacpp.json')
  })
})
