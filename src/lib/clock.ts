/** Today's date as YYYY-MM-DD in UTC: what price dates are compared with (the 6-month stale-price warning). */
export const todayUtc = (): string => new Date().toISOString().slice(0, 10)
