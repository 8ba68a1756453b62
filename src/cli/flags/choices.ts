/**
 * Flags whose value is one of a stage's fixed lists (quantization levels, price tiers, profile kinds, ...):
 * defined here so commands need not import the stages that own the lists. Each command adds its summary and
 * default, e.g. `quant: quantFlag({summary: 'Quantization level.', default: 'int4'})`.
 */

import {Flags} from '@oclif/core'

import {pricingChoices} from '../../cost/plan-input.js'
import {profileKinds, quantLevels} from '../../profiles/schema.js'
import {formatChoices, kvCacheDtypes, weightFormatIds} from '../../roofline/formats.js'

/** One quantization level: int4, int8, fp16. */
export const quantFlag = Flags.option({options: quantLevels})

/** Comma-separated quantization levels, in a summary. */
export const quantLevelNames = quantLevels.join(', ')

/** A GPU profile's price: on-demand, spot, reserved (rented), or owned (bought). */
export const pricingFlag = Flags.option({options: pricingChoices})

/** A profile kind: gpu, model, api, workload, quant-loss. */
export const profileKindFlag = Flags.option({options: profileKinds})

/** estimate --format: gguf, vllm or a concrete weight format. */
export const weightFormatFlag = Flags.option({options: formatChoices})

/** estimate --kv-cache: the KV cache precision. */
export const kvCacheFlag = Flags.option({options: kvCacheDtypes})

/** import --format: a concrete weight format (no gguf/vllm choice: the file's model is what it is). */
export const weightFormatIdFlag = Flags.option({options: weightFormatIds})
