/**
 * `capplan model synth`: a model profile + quant -> a random-weight GGUF with the model's exact architecture
 * (gguf/synth.ts), written once and reused from the cache.
 */

import {ensureSyntheticModel, estimateSyntheticFileBytes, syntheticFormatFor, type SynthResult} from '../../gguf/synth.js'
import {checkOutputPath} from '../../lib/output-path.js'
import {loadProfiles} from '../../profiles/load.js'
import type {QuantLevel} from '../../profiles/schema.js'

export type {SynthResult} from '../../gguf/synth.js'

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`

export interface SynthChoices {
  profilesDir: string | undefined
  model: string
  quant: QuantLevel
  output: string | undefined
  seed: number
  force: boolean
}

export interface SynthIo {
  /** The line that says what is about to be written (model, quant, format, seed, size). */
  info: (message: string) => void
  /** Draw "Writing X / Y" on stderr as the file is written (a terminal, not --json). */
  showProgress: boolean
}

export async function synthesizeModel(choices: SynthChoices, io: SynthIo): Promise<SynthResult> {
  // -o: a directory, a missing directory or a result file is refused before anything is planned or written.
  if (choices.output !== undefined) await checkOutputPath(choices.output, {flag: '--output', what: 'the model'})
  const store = await loadProfiles({userDir: choices.profilesDir})
  const profile = store.get('model', choices.model)
  const format = syntheticFormatFor(profile, choices.quant)
  const estimate = estimateSyntheticFileBytes(profile, choices.quant)
  let lastDrawn = 0
  const onProgress = (done: number, total: number) => {
    if (!io.showProgress) return
    const now = Date.now()
    if (now - lastDrawn < 200 && done < total) return
    lastDrawn = now
    process.stderr.write(`\rWriting ${mib(done)} / ${mib(total)} (${((done / total) * 100).toFixed(0)}%)`)
  }
  io.info(`${profile.id} at ${choices.quant} (${format}, seed ${choices.seed}): ${mib(estimate)}`)
  const {quant, seed, output: outFile, force} = choices
  const result = await ensureSyntheticModel({profile, quant, seed, outFile, force, onProgress})
  if (io.showProgress && !result.reused) process.stderr.write('\n')
  return result
}

export function renderSynthResult(result: SynthResult): string[] {
  return [
    `${result.reused ? 'Reused' : 'Wrote'} ${result.path}`,
    `  ${result.format}, ${mib(result.bytes)} (${result.bytes} bytes), seed ${result.seed}`,
    `  sha256 ${result.sha256}`,
  ]
}
