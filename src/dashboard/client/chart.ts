import type { MinuteCount } from './api.ts'
import { svg } from './dom.ts'

const WIDTH = 1200
const HEIGHT = 170
const PAD = { top: 8, right: 8, bottom: 20, left: 32 }
const OUTCOMES = ['sent', 'retry', 'failed'] as const

/** A round top for the y axis: 1, 2, 5, 10, 20, 50, … */
function niceMax(value: number): number {
  if (value <= 1) return 1
  const magnitude = 10 ** Math.floor(Math.log10(value))
  return ([1, 2, 5, 10].find((m) => m * magnitude >= value) ?? 10) * magnitude
}

/** Attempts per minute as stacked bars (sent, retry, failed), drawn as SVG: no chart library needed. */
export function minuteChart(series: MinuteCount[]): SVGElement {
  const max = niceMax(Math.max(0, ...series.map((m) => m.sent + m.retry + m.failed)))
  const plotWidth = WIDTH - PAD.left - PAD.right
  const plotHeight = HEIGHT - PAD.top - PAD.bottom
  const step = plotWidth / Math.max(1, series.length)
  const y = (value: number) => (value / max) * plotHeight

  const chart = svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: 'chart', role: 'img', 'aria-label': 'Deliveries per minute by outcome' })
  for (const tick of [0, max / 2, max]) {
    const ty = PAD.top + plotHeight - y(tick)
    chart.append(
      svg('line', { x1: PAD.left, x2: WIDTH - PAD.right, y1: ty, y2: ty, class: 'grid' }),
      svg('text', { x: PAD.left - 6, y: ty + 4, class: 'axis', 'text-anchor': 'end' }, String(Math.round(tick * 10) / 10)),
    )
  }
  series.forEach((minute, index) => {
    const x = PAD.left + index * step
    let top = PAD.top + plotHeight
    const label = new Date(minute.minute).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false })
    const group = svg('g', { class: 'bar' }, svg('title', {}, `${label}: ${minute.sent} sent, ${minute.retry} retry, ${minute.failed} failed`))
    for (const outcome of OUTCOMES) {
      const height = y(minute[outcome])
      if (height <= 0) continue
      top -= height
      group.append(svg('rect', { x: x + 1, y: top, width: Math.max(1, step - 2), height, class: `bar-${outcome}` }))
    }
    // an invisible full-height target, so the tooltip shows on empty minutes too
    group.append(svg('rect', { x, y: PAD.top, width: step, height: plotHeight, class: 'hit' }))
    chart.append(group)
    if (index % 15 === 0 || index === series.length - 1) {
      chart.append(svg('text', { x: x + step / 2, y: HEIGHT - 5, class: 'axis', 'text-anchor': 'middle' }, label))
    }
  })
  return chart
}
