/* global uPlot, addEventListener, requestAnimationFrame, cancelAnimationFrame */
// Line charts on uPlot (loaded before this module as the global `uPlot`): about
// 50 KB minified, canvas drawing, thousands of points in a few milliseconds.
const charts = new Set();
const COLORS = ['#1f5fbf', '#b35900', '#a3123a', '#1d7a3a', '#6b3fa0'];

function widthOf(el) {
  return Math.max(260, Math.floor(el.clientWidth || el.parentElement.clientWidth || 300));
}

/**
 * A chart in `el`: `series` is [{ label, scale?, unit? }], `axes` the y axes by
 * scale; `onPoint(i)`, when given, is called with the index of the step clicked.
 * Returns { update(t, ...ys) } with t in ms.
 */
export function lineChart(el, { series, axes, height = 180, onPoint }) {
  let plot;
  const scales = { x: { time: true } };
  for (const a of axes) scales[a.scale] = { auto: true, range: a.range };
  const opts = {
    width: widthOf(el),
    height,
    legend: { live: false },
    cursor: { drag: { x: false, y: false } },
    scales,
    hooks: onPoint
      ? {
          ready: [
            (u) =>
              u.over.addEventListener('click', () => {
                if (u.cursor.idx !== null && u.cursor.idx !== undefined) onPoint(u.cursor.idx);
              }),
          ],
        }
      : {},
    series: [
      {},
      ...series.map((s, i) => ({
        label: s.label,
        scale: s.scale ?? axes[0].scale,
        stroke: COLORS[i % COLORS.length],
        width: 1.5,
        spanGaps: false,
        value: (_u, v) => (v == null ? '–' : `${+v.toFixed(3)}${s.unit ?? ''}`),
      })),
    ],
    axes: [
      { stroke: '#333' },
      ...axes.map((a, i) => ({
        scale: a.scale,
        side: i === 0 ? 3 : 1,
        stroke: '#333',
        size: a.size ?? 64,
        grid: { show: i === 0 },
        values: (_u, ticks) => ticks.map((v) => (a.format ? a.format(v) : String(+v.toFixed(2)))),
      })),
    ],
  };
  const chart = {
    el,
    update(t, ...ys) {
      const data = [t.map((ms) => ms / 1000), ...ys];
      if (plot === undefined) {
        plot = new uPlot(opts, data, el);
      } else {
        plot.setData(data);
      }
    },
    resize() {
      if (plot !== undefined) plot.setSize({ width: widthOf(el), height });
    },
    destroy() {
      plot?.destroy();
      charts.delete(chart);
    },
  };
  charts.add(chart);
  return chart;
}

let pending = 0;
addEventListener('resize', () => {
  cancelAnimationFrame(pending);
  pending = requestAnimationFrame(() => {
    for (const c of charts) c.resize();
  });
});
