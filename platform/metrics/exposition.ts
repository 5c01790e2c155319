// /metrics in the format the scraper asks for: OpenMetrics (with exemplars)
// when its Accept header names application/openmetrics-text, the classic
// Prometheus text format otherwise. One registry serves both.
//
// Why not registry.setContentType(): prom-client 15 renders OpenMetrics by
// renaming every registered counter in place (`foo_total` → `foo`), so the
// next classic scrape would lose the `_total` suffix (see prometheus/client_js
// PR #829). Here the OpenMetrics text comes from a throw-away registry that
// holds read-only views of the same metrics, and nothing is ever renamed.

import { Histogram, Registry, type HistogramConfiguration, type OpenMetricsContentType, type Metric, type MetricObjectWithValues, type MetricValue } from 'prom-client';

export const OPENMETRICS_CONTENT_TYPE = Registry.OPENMETRICS_CONTENT_TYPE;
export const PROMETHEUS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

/** True when the Accept header lists OpenMetrics without refusing it (q=0). */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((range) => {
    const [type, ...params] = range.split(';').map((s) => s.trim().toLowerCase());
    if (type !== 'application/openmetrics-text') return false;
    const q = params.find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

interface CounterLike {
  name: string;
  get(): Promise<MetricObjectWithValues<MetricValue<string>>>;
}

/** A counter as OpenMetrics names it: the family without `_total` (the renderer adds it to each sample). */
function openMetricsCounterView(counter: CounterLike): Metric {
  const family = counter.name.replace(/_total$/, '');
  const view = {
    name: family,
    type: 'counter',
    get: async () => ({ ...(await counter.get()), name: family }),
  };
  return view as unknown as Metric;
}

async function renderOpenMetrics(registry: Registry): Promise<string> {
  const view = new Registry<OpenMetricsContentType>();
  view.setContentType(OPENMETRICS_CONTENT_TYPE);
  for (const metric of registry.getMetricsAsArray()) {
    const m = metric as unknown as Metric & CounterLike & { type: string };
    view.registerMetric(m.type === 'counter' ? openMetricsCounterView(m) : m);
  }
  return view.metrics();
}

export interface RenderedMetrics {
  contentType: string;
  body: string;
}

/** The registry's metrics as text in the negotiated format. `registry` must be a classic (Prometheus) one. */
export async function renderMetrics(registry: Registry, accept: string | undefined): Promise<RenderedMetrics> {
  if (wantsOpenMetrics(accept)) return { contentType: OPENMETRICS_CONTENT_TYPE, body: await renderOpenMetrics(registry) };
  return { contentType: PROMETHEUS_CONTENT_TYPE, body: await registry.metrics() };
}

/**
 * A histogram that keeps exemplars, registered on a classic registry.
 * prom-client refuses `enableExemplars` on a registry that is not
 * OpenMetrics-typed; the exemplars are only ever written by renderMetrics'
 * OpenMetrics path, so the check is sidestepped by registering it by hand.
 */
export function exemplarHistogram<L extends string>(registry: Registry, config: Omit<HistogramConfiguration<L>, 'registers' | 'enableExemplars'>): Histogram<L> {
  const histogram = new Histogram<L>({ ...config, enableExemplars: true, registers: [] });
  registry.registerMetric(histogram);
  return histogram;
}
