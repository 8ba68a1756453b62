/** Prices from the profiles: a GPU's $/hour at a pricing tier, an API's $/1M tokens (current or a quoted variant). */

import {invalidInput, notFound} from '../lib/errors.js'
import {type GpuPrice, type GpuProfile, type PricingTier, pricingTiers} from '../profiles/schema.js'
import type {ProfileStore} from '../profiles/store.js'

export interface ResolvedApiPrice {
  id: string
  name: string
  variant: string | null
  inputPerMTok: number
  outputPerMTok: number
  cachedInputPerMTok?: number
  source: string
  date: string
  note?: string
}

/** "gpt-4o" -> the API's current price; "gpt-4o@seed-000" -> a named variant (e.g. the figure a seed article used). */
export function resolveApiPrice(store: ProfileStore, idWithVariant: string): ResolvedApiPrice {
  const at = idWithVariant.indexOf('@')
  const id = at === -1 ? idWithVariant : idWithVariant.slice(0, at)
  const variantId = at === -1 ? null : idWithVariant.slice(at + 1)
  const api = store.get('api', id)
  if (variantId === null) {
    const {price} = api
    return {
      id: api.id,
      name: api.name,
      variant: null,
      inputPerMTok: price.inputPerMTok,
      outputPerMTok: price.outputPerMTok,
      ...(price.cachedInputPerMTok === undefined ? {} : {cachedInputPerMTok: price.cachedInputPerMTok}),
      source: price.source,
      date: price.date,
      ...(price.note === undefined ? {} : {note: price.note}),
    }
  }
  const variant = api.variants.find((v) => v.id === variantId)
  if (variant === undefined) {
    const known = api.variants.map((v) => `${api.id}@${v.id}`)
    throw notFound(
      `API "${api.id}" has no price variant "${variantId}". ${known.length > 0 ? `Variants: ${known.join(', ')}.` : 'It has no variants.'}`,
      `Use "${api.id}" for its current price${known.length > 0 ? ` or one of ${known.join(', ')}` : ''} (\`capplan profiles show ${api.id}\`).`,
    )
  }
  return {
    id: api.id,
    name: api.name,
    variant: variant.id,
    inputPerMTok: variant.inputPerMTok,
    outputPerMTok: variant.outputPerMTok,
    ...(variant.cachedInputPerMTok === undefined ? {} : {cachedInputPerMTok: variant.cachedInputPerMTok}),
    source: variant.source,
    date: variant.date,
    ...(variant.note === undefined ? {} : {note: variant.note}),
  }
}

/** The $/GPU-hour of a pricing tier; a tier the profile has no price for is the user's to choose differently. */
export function gpuHourlyPrice(gpu: GpuProfile, tier: PricingTier): GpuPrice {
  const price = gpu.prices[tier]
  if (price !== null && price !== undefined) return price
  const available = pricingTiers.filter((t) => gpu.prices[t] !== null)
  throw invalidInput(
    `GPU profile "${gpu.id}" has no ${tier} price. ${available.length > 0 ? `It has: ${available.join(', ')}.` : 'It has no prices at all.'}`,
    available.length > 0
      ? `Use --pricing ${available.join('|')}, or give the price yourself with --gpu-price.`
      : 'Give the price yourself with --gpu-price, or add prices to the profile with --profiles DIR.',
  )
}

/** Prices older than this many months print a warning naming the profile and its date. */
export const STALE_PRICE_MONTHS = 6

/** Whole months from a price's date (YYYY-MM or YYYY-MM-DD) to today (YYYY-MM-DD). */
export function monthsBetween(date: string, today: string): number {
  const [y1, m1, d1 = 1] = date.split('-').map(Number) as [number, number, number?]
  const [y2, m2, d2 = 1] = today.split('-').map(Number) as [number, number, number?]
  return (y2 - y1) * 12 + (m2 - m1) - (d2 < d1 ? 1 : 0)
}

/** "price of gpt-4o is dated 2025-02 (21 months old) ..." when older than STALE_PRICE_MONTHS; null otherwise. */
export function stalePriceWarning(what: string, date: string, today: string): string | null {
  const months = monthsBetween(date, today)
  if (months <= STALE_PRICE_MONTHS) return null
  return `the price of ${what} is dated ${date} (${months} months before ${today}): check it (capplan profiles show, or your own profile with --profiles)`
}
