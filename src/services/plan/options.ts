/**
 * `capplan plan`: the cost flags' values + the profile store -> the PlanInput, and the plan itself. Each value
 * was parsed by its oclif flag (src/cli/flags/plan.ts); the pairs that exclude each other are costChoicesFrom's,
 * the rules between choices cost/plan-input.ts's; unknown GPU/API ids are the store's NOT_FOUND errors.
 */

import {type CostFlagParsed, costChoicesFrom} from '../../cli/flags/cost.js'
import {planInputFor} from '../../cost/plan-input.js'
import {planCost, type PlanInput, type PlanResult} from '../../cost/plan.js'
import {todayUtc} from '../../lib/clock.js'
import {loadProfiles} from '../../profiles/load.js'
import {type ProfileStore} from '../../profiles/store.js'

/** The flags of `capplan plan` as oclif parses them: numbers, token counts, an IoRatio, API ids. */
export type PlanFlagValues = CostFlagParsed

export function planInputFromFlags(flags: PlanFlagValues, store: ProfileStore, today: string = todayUtc()): PlanInput {
  return planInputFor({...costChoicesFrom(flags), today}, store)
}

/** The whole `capplan plan`: profiles (built-in + --profiles DIR), flags, cost. */
export async function planFromFlags(flags: PlanFlagValues, profilesDir: string | undefined): Promise<PlanResult> {
  const store = await loadProfiles(profilesDir === undefined ? {} : {userDir: profilesDir})
  return planCost(planInputFromFlags(flags, store))
}
