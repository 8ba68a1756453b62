/**
 * `capplan plan`: the cost flags (text) + the profile store -> the PlanInput, and the plan itself. Parsing is
 * cli/parsers/cost.ts's, the rules between choices cost/plan-input.ts's; unknown GPU/API ids are the store's
 * NOT_FOUND errors.
 */

import {type CostFlagValues, parseCostFlags} from '../../cli/parsers/cost.js'
import {planInputFor} from '../../cost/plan-input.js'
import {planCost, type PlanInput, type PlanResult} from '../../cost/plan.js'
import {loadProfiles} from '../../profiles/load.js'
import {type ProfileStore} from '../../profiles/store.js'

export type PlanFlagValues = CostFlagValues

export function planInputFromFlags(flags: CostFlagValues, store: ProfileStore): PlanInput {
  return planInputFor(parseCostFlags(flags), store)
}

/** The whole `capplan plan`: profiles (built-in + --profiles DIR), flags, cost. */
export async function planFromFlags(flags: CostFlagValues, profilesDir: string | undefined): Promise<PlanResult> {
  const store = await loadProfiles(profilesDir === undefined ? {} : {userDir: profilesDir})
  return planCost(planInputFromFlags(flags, store))
}
