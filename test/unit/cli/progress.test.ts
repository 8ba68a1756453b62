import {describe, expect, it} from 'vitest'

import {createStatusLine, defaultHeartbeatMs} from '../../../src/cli/progress.js'

/** A fake stderr that records what was written. */
function fakeStream(isTTY: boolean) {
  const writes: string[] = []
  const stream = {isTTY, columns: 40, write: (text: string) => writes.push(text) > 0} as unknown as NodeJS.WriteStream
  return {stream, writes}
}

describe('status line', () => {
  it('redraws one line on a terminal, throttled, and keeps it below permanent lines', () => {
    const {stream, writes} = fakeStream(true)
    const line = createStatusLine({enabled: true, stream, intervalMs: 60_000})
    line.update('level 1/3')
    line.update('level 1/3 · 1/4 requests') // throttled away
    line.update('level 2/3', true)
    line.log('concurrency 1: 63.2 tok/s')
    line.clear()
    expect(writes).toEqual(['\r\u001B[2Klevel 1/3', '\r\u001B[2Klevel 2/3', '\r\u001B[2K', 'concurrency 1: 63.2 tok/s\n', 'level 2/3', '\r\u001B[2K'])
  })

  it('cuts a line wider than the terminal', () => {
    const {stream, writes} = fakeStream(true)
    createStatusLine({enabled: true, stream}).update('x'.repeat(100))
    expect(writes[0]).toBe(`\r\u001B[2K${'x'.repeat(38)}…`)
  })

  it('writes only permanent lines when stderr is not a terminal, and nothing when disabled (--json)', () => {
    const pipe = fakeStream(false)
    const piped = createStatusLine({enabled: true, stream: pipe.stream})
    piped.update('level 1/3', true)
    piped.log('result file results/x.json')
    piped.clear()
    expect(pipe.writes).toEqual(['result file results/x.json\n'])

    const json = fakeStream(true)
    const silent = createStatusLine({enabled: false, stream: json.stream})
    silent.update('level 1/3', true)
    silent.log('result file results/x.json')
    expect(json.writes).toEqual([])
  })

  it('when not a terminal, writes the status as a line of its own at most every heartbeat since the last line', async () => {
    const pipe = fakeStream(false)
    const line = createStatusLine({enabled: true, stream: pipe.stream, heartbeatMs: 40})
    line.update('warmup · 0/12 requests · 0 s', true) // at once after the start: too soon
    await new Promise((resolve) => setTimeout(resolve, 50))
    line.update('warmup · 3/12 requests · 1 s')
    line.update('warmup · 4/12 requests · 1 s') // within the heartbeat of the last line
    await new Promise((resolve) => setTimeout(resolve, 50))
    line.log('concurrency 1: 63.2 tok/s')
    line.update('level 1/3 · 1/4 requests · 0 s') // a permanent line was just written
    expect(pipe.writes).toEqual(['warmup · 3/12 requests · 1 s\n', 'concurrency 1: 63.2 tok/s\n'])
  })

  it('CAPPLAN_PROGRESS_SECONDS sets the heartbeat; anything but a positive number leaves 10 s', () => {
    expect(defaultHeartbeatMs({CAPPLAN_PROGRESS_SECONDS: '0.5'})).toBe(500)
    expect(defaultHeartbeatMs({CAPPLAN_PROGRESS_SECONDS: 'soon'})).toBe(10_000)
    expect(defaultHeartbeatMs({CAPPLAN_PROGRESS_SECONDS: '-1'})).toBe(10_000)
    expect(defaultHeartbeatMs({})).toBe(10_000)
  })
})
