import {z} from 'zod'

/**
 * The serving features a run used, for the ceilings to judge it (schemaVersion 3, optional, every key
 * optional: absent = not used / not known). `capplan import` sets it from its flags; the physics check of
 * `report` and the planner read it (src/roofline/memory.ts ServingFeatures).
 */
export const servingRecordSchema = z.strictObject({
  /** Data-parallel attention: each GPU holds the KV cache of its own requests only (one copy per sequence). */
  dataParallelAttention: z.boolean().optional(),
  /** Expert-parallel size of an MoE model (informational: the bytes read are the same). */
  expertParallel: z.number().int().positive().optional(),
  /** KV cache precision. */
  kvCache: z.enum(['fp16', 'bf16', 'fp8', 'q8_0']).optional(),
  /** Speculative decoding (MTP, EAGLE, a draft model) and its accepted tokens per sequence per step. */
  speculative: z.strictObject({method: z.string().min(1), tokensPerStep: z.number().min(1).optional()}).optional(),
  /** A decode worker of a disaggregated prefill/decode deployment: its prefill runs on other GPUs. */
  decodeOnly: z.boolean().optional(),
})
export type ServingRecord = z.infer<typeof servingRecordSchema>
