/**
 * The JSON schemas of every route: request bodies, parameters and query strings
 * (validated by Ajv with no coercion and no silent removal: an unknown field is a
 * 400) and responses (serialised by Fastify and published in `/openapi.json`). Only
 * keywords OpenAPI 3.0 knows are used (no `const`, no type arrays, no
 * `propertyNames`). Imports nothing.
 */

/** Numbers past 2^53 lose integer precision: rejected rather than stored wrong. */
const MAX = Number.MAX_SAFE_INTEGER;

const text = (maxLength: number, description?: string): Record<string, unknown> => ({
  type: 'string',
  minLength: 1,
  maxLength,
  pattern: '^[^\\u0000-\\u001f]+$',
  ...(description === undefined ? {} : { description }),
});

const finite = (description: string, minimum = -MAX): Record<string, unknown> => ({
  type: 'number',
  minimum,
  maximum: MAX,
  description,
});

const stringMap = (description: string): Record<string, unknown> => ({
  type: 'object',
  description,
  maxProperties: 64,
  additionalProperties: { type: 'string', maxLength: 500 },
});

const scalar = {
  anyOf: [
    { type: 'string', maxLength: 2000 },
    { type: 'number', minimum: -MAX, maximum: MAX },
    { type: 'boolean' },
  ],
};

const timestamp = (description: string): Record<string, unknown> => ({
  type: 'string',
  format: 'date-time',
  maxLength: 40,
  description,
});

const METRIC_TYPES = ['counter', 'gauge', 'histogram', 'timer'];
const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'];

/** The spec's single metric. @internal */
export const specMetricSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'value', 'metric_type'],
  properties: {
    name: text(200, 'The metric name, such as `marketplace.recommendation.generated`.'),
    value: finite(
      'A counter increment (>= 0), a gauge value, or one histogram/timer sample (timers in ms).',
    ),
    metric_type: { type: 'string', enum: METRIC_TYPES },
    component: text(100, 'The component; default `default`.'),
    tags: stringMap('Identifying tags: each tag set is its own series.'),
    labels: stringMap('Descriptive labels (the latest are kept).'),
    error: {
      type: 'boolean',
      description:
        'Histogram and timer samples only: the sample is a failed call, counted in the built-in `error_rate` of alert conditions.',
    },
  },
};

/** `POST /metrics`: one metric or `{ metrics: [...] }`. @internal */
export const metricsBodySchema = {
  description: 'One metric in the spec shape, or a batch `{ "metrics": [...] }` of up to 1000.',
  oneOf: [
    specMetricSchema,
    {
      type: 'object',
      additionalProperties: false,
      required: ['metrics'],
      properties: {
        metrics: { type: 'array', minItems: 1, maxItems: 1000, items: specMetricSchema },
      },
    },
  ],
};

const restMetricBase = {
  metric_name: text(200),
  component: text(100),
  tags: stringMap('Identifying tags.'),
  labels: stringMap('Descriptive labels.'),
  timestamp: timestamp('When the snapshot was taken.'),
};
const baseRequired = ['metric_name', 'component', 'tags', 'labels', 'timestamp', 'metric_type'];

const quantiles = {
  type: 'object',
  maxProperties: 16,
  additionalProperties: { type: 'number', minimum: -MAX, maximum: MAX },
};

/** Base64 (standard alphabet, padded). */
const BASE64 = '^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$';

/**
 * One sub-window of a histogram or timer with its digest (`RestSubWindow`). What the
 * schema cannot say is checked on ingest (400 on the field): `seconds` > 0, `min` <=
 * `max`, `error_count` <= `count`, the centroids' decoded length a multiple of 8,
 * their means sorted and within `min`..`max`, their weights positive and adding up to
 * `count`. @internal
 */
export const subWindowSchema = {
  type: 'object',
  additionalProperties: false,
  required: [
    'start_time',
    'seconds',
    'partial',
    'count',
    'sum',
    'min',
    'max',
    'error_count',
    'centroids',
  ],
  properties: {
    start_time: timestamp(
      'When the sub-window began; it is stored in the minute holding this time (a sub-window longer than a minute goes to its first minute).',
    ),
    seconds: { type: 'number', minimum: 0, maximum: 3600, description: 'Its length (> 0).' },
    partial: {
      type: 'boolean',
      description: 'Still open when sent (at shutdown); merged like any other.',
    },
    count: finite('Samples in it.', 0),
    sum: finite('Their exact sum.'),
    min: finite('Their exact minimum.'),
    max: finite('Their exact maximum.'),
    error_count: finite('Samples recorded as errors (<= count).', 0),
    centroids: {
      type: 'string',
      maxLength: 65536,
      pattern: BASE64,
      description:
        'Base64 of little-endian float32 pairs (mean, weight), sorted by mean; weights add up to `count`.',
    },
    exemplars: {
      type: 'array',
      maxItems: 4,
      description:
        'Optional: up to 4 values of the sub-window recorded with a trace (exemplars), each within `min`..`max`; the 4 slowest per series and minute are kept as long as the minute rows and served by `GET /dashboard/series`.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['value', 'trace_id'],
        properties: {
          value: finite('The recorded value (ms for timers).'),
          trace_id: {
            type: 'string',
            pattern: '^[0-9a-f]{32}$',
            description: '32 lowercase hex digits.',
          },
          span_id: {
            type: 'string',
            pattern: '^[0-9a-f]{16}$',
            description: '16 lowercase hex digits.',
          },
          timestamp: timestamp('When the value was recorded; default the sub-window start.'),
        },
      },
    },
  },
};

/** Who sent a batch (`RestSource`). @internal */
export const sourceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['instance_id', 'resource'],
  description:
    "The exporting process: counter totals are kept per `instance_id`, so two processes reporting one series add up instead of looking like each other's restarts.",
  properties: {
    instance_id: {
      type: 'string',
      minLength: 1,
      maxLength: 100,
      pattern: '^[A-Za-z0-9._:-]+$',
      description: 'Unique per exporting process (a UUID from the REST exporter).',
    },
    resource: {
      type: 'object',
      maxProperties: 64,
      required: ['service.name'],
      description: 'Resource attributes of the monitor, `service.name` among them.',
      properties: { 'service.name': text(200) },
      additionalProperties: {
        anyOf: [
          { type: 'string', maxLength: 500 },
          { type: 'number', minimum: -MAX, maximum: MAX },
          { type: 'boolean' },
        ],
      },
    },
  },
};

/** One series of the REST exporter's batch, switched on `metric_type`. @internal */
export const restMetricSchema = {
  type: 'object',
  required: ['metric_type'],
  discriminator: { propertyName: 'metric_type' },
  oneOf: [
    {
      type: 'object',
      additionalProperties: false,
      required: [...baseRequired, 'value', 'windows'],
      properties: {
        ...restMetricBase,
        metric_type: { type: 'string', enum: ['counter'] },
        value: finite('The total since the series began.', 0),
        windows: {
          type: 'array',
          maxItems: 16,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['window_seconds', 'count', 'per_second', 'per_minute'],
            properties: {
              window_seconds: finite('The window.', 0),
              count: finite('The increase within the window.', 0),
              per_second: finite('Rate per second.', 0),
              per_minute: finite('Rate per minute.', 0),
            },
          },
        },
      },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: [...baseRequired, 'value'],
      properties: {
        ...restMetricBase,
        metric_type: { type: 'string', enum: ['gauge'] },
        value: finite('The last value.'),
      },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: [...baseRequired, 'value', 'unit', 'count', 'sum', 'windows'],
      properties: {
        ...restMetricBase,
        metric_type: { type: 'string', enum: ['histogram', 'timer'] },
        value: finite('The cumulative mean.'),
        unit: { type: 'string', maxLength: 32 },
        count: finite('Samples since the series began.', 0),
        sum: finite('Their sum.'),
        min: finite('Their minimum.'),
        max: finite('Their maximum.'),
        windows: {
          type: 'array',
          maxItems: 16,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['window_seconds', 'count', 'sum', 'error_rate', 'per_second', 'quantiles'],
            properties: {
              window_seconds: finite('The window.', 0),
              count: finite('Samples in the window.', 0),
              sum: finite('Their sum.'),
              min: finite('Their minimum.'),
              max: finite('Their maximum.'),
              mean: finite('Their mean.'),
              error_rate: { type: 'number', minimum: 0, maximum: 1 },
              per_second: finite('Samples per second.', 0),
              quantiles,
            },
          },
        },
        sub_windows: {
          type: 'array',
          maxItems: 64,
          description:
            'Sub-windows with their digests, each sent once: merged into the minute digests. With it, `windows` and the cumulative fields are not counted.',
          items: subWindowSchema,
        },
      },
    },
  ],
};

/** One finished span. @internal */
export const spanSchema = {
  type: 'object',
  additionalProperties: false,
  required: [
    'trace_id',
    'span_id',
    'name',
    'start_time',
    'end_time',
    'duration_ms',
    'status',
    'attributes',
  ],
  properties: {
    trace_id: {
      type: 'string',
      pattern: '^[0-9a-f]{32}$',
      description: '32 lowercase hex digits.',
    },
    span_id: { type: 'string', pattern: '^[0-9a-f]{16}$', description: '16 lowercase hex digits.' },
    parent_span_id: { type: 'string', pattern: '^[0-9a-f]{16}$' },
    name: text(200),
    start_time: timestamp('Start, ISO 8601.'),
    end_time: timestamp('End, ISO 8601.'),
    duration_ms: finite('Duration in ms.', 0),
    status: { type: 'string', enum: ['success', 'error'] },
    status_message: { type: 'string', maxLength: 2000 },
    attributes: {
      type: 'object',
      maxProperties: 128,
      additionalProperties: {
        anyOf: [
          ...scalar.anyOf,
          {
            type: 'array',
            maxItems: 128,
            items: {
              anyOf: [...scalar.anyOf, { type: 'string', nullable: true, maxLength: 0 }],
            },
          },
        ],
      },
    },
    component: text(100),
  },
};

/** `POST /traces`. @internal */
export const tracesBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['spans'],
  properties: { spans: { type: 'array', minItems: 1, maxItems: 5000, items: spanSchema } },
};

/** One alert event of a batch. @internal */
export const alertEventSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['alert_id', 'rule_id', 'name', 'severity', 'component', 'event', 'at'],
  properties: {
    alert_id: text(200),
    rule_id: text(200),
    name: text(200),
    severity: { type: 'string', enum: SEVERITIES },
    component: text(100),
    event: {
      type: 'string',
      enum: [
        'pending',
        'firing',
        'resolved',
        'cancelled',
        'acknowledged',
        'escalated',
        'rule_deleted',
      ],
    },
    at: timestamp('When.'),
    value: finite('The condition value then.'),
    by: { type: 'string', maxLength: 200 },
    escalation_step: { type: 'integer', minimum: 0, maximum: 1000 },
  },
};

/** `POST /batch`: exactly what `@prsm/exporters/rest` sends. @internal */
export const batchBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['batch_id', 'sent_at', 'metrics', 'traces', 'alerts'],
  properties: {
    batch_id: {
      type: 'string',
      minLength: 1,
      maxLength: 200,
      pattern: '^[A-Za-z0-9._:-]+$',
      description: 'Kept across retries; a batch id already stored is ignored.',
    },
    source: sourceSchema,
    sent_at: timestamp('When this attempt was made.'),
    metrics: { type: 'array', maxItems: 20000, items: restMetricSchema },
    traces: { type: 'array', maxItems: 20000, items: spanSchema },
    alerts: { type: 'array', maxItems: 10000, items: alertEventSchema },
  },
};

/** `POST /business-metrics`. @internal */
export const businessMetricBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['metric_name', 'value'],
  properties: {
    metric_name: text(200),
    value: finite('The KPI value.'),
    dimension: text(100, 'The period or breakdown, such as `daily` or `monthly`.'),
    target: finite('The target value.'),
    metadata: {
      type: 'object',
      maxProperties: 64,
      description: 'Flat metadata: strings, numbers, booleans or null (no nesting).',
      additionalProperties: {
        anyOf: [...scalar.anyOf, { type: 'string', nullable: true, maxLength: 0 }],
      },
    },
  },
};

/** `POST /alerts`. @internal */
export const alertRuleBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'severity', 'component', 'condition'],
  description:
    'An alert rule, stored and evaluated by the server over the data it stored (every `evaluationIntervalMs`): pending, firing after `duration_seconds`, resolved; channels the server was given (`--webhook-url` makes `webhook`) are notified.',
  properties: {
    name: text(200),
    description: { type: 'string', maxLength: 2000 },
    severity: { type: 'string', enum: SEVERITIES },
    component: text(100),
    condition: text(2000, 'In the alert engine condition language, e.g. `error_rate > 0.05`.'),
    threshold: finite('The threshold, for display beside the condition.'),
    duration_seconds: { type: 'integer', minimum: 0, maximum: 604800 },
    notification_channels: {
      type: 'array',
      maxItems: 32,
      items: text(100),
    },
  },
};

/** `POST /alerts/{id}/acknowledge` (the body is optional). @internal */
export const acknowledgeBodySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { by: text(200, 'Who acknowledges; default the key id.') },
};

/** `{ trace_id }`. @internal */
export const traceParamsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['trace_id'],
  properties: {
    trace_id: { type: 'string', pattern: '^[0-9a-fA-F]{32}$', description: '32 hex digits.' },
  },
};

/** `{ id }` of an alert rule. @internal */
export const alertParamsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,100}$' } },
};

/** `GET /alerts` query. @internal */
export const alertsQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    severity: { type: 'string', enum: SEVERITIES },
    component: text(100),
  },
};

/** Any query string is refused on routes that take none. @internal */
export const noQuerySchema = { type: 'object', additionalProperties: false, properties: {} };

// ---- responses -----------------------------------------------------------------------

/** The error body of every 4xx and 5xx. @internal */
export const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'field'],
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        field: {
          type: 'string',
          nullable: true,
          description: 'The offending field; null on 5xx.',
        },
      },
    },
  },
};

/** Error responses by status, with their meaning. @internal */
export function errorResponses(
  statuses: readonly number[],
): Record<string, Record<string, unknown>> {
  const meaning: Record<number, string> = {
    400: 'Bad input: `field` names what is wrong.',
    401: 'No key, or an unknown or revoked key.',
    403: "The key's role does not allow this route.",
    404: 'Not found.',
    409: 'Conflicts with what is stored (a series of another type).',
    413: 'The body (or its inflated size) exceeds the limit.',
    415: 'Not `application/json` (or an unsupported content-encoding).',
    429: 'Too many requests for this key: see `Retry-After`.',
    500: 'Internal error (never with details).',
  };
  const out: Record<string, Record<string, unknown>> = {};
  for (const status of statuses) {
    out[String(status)] = { description: meaning[status] ?? 'Error.', ...errorSchema };
  }
  return out;
}

/** The spec's ingest answer. @internal */
export const recordedSchema = {
  type: 'object',
  required: ['success', 'message', 'timestamp'],
  properties: {
    success: { type: 'boolean' },
    message: { type: 'string' },
    metric_name: { type: 'string' },
    recorded: { type: 'integer' },
    timestamp: { type: 'string', format: 'date-time' },
  },
};

/** The batch answer. @internal */
export const batchResponseSchema = {
  type: 'object',
  required: ['success', 'duplicate', 'batch_id', 'message'],
  properties: {
    success: { type: 'boolean' },
    duplicate: { type: 'boolean' },
    batch_id: { type: 'string' },
    message: { type: 'string' },
    stored: {
      type: 'object',
      properties: {
        metrics: { type: 'integer' },
        traces: { type: 'integer' },
        alerts: { type: 'integer' },
      },
    },
  },
};

const metadataMap = { type: 'object', additionalProperties: true };

/** The spec's trace object. @internal */
export const traceResponseSchema = {
  type: 'object',
  required: [
    'trace_id',
    'operation',
    'component',
    'total_duration_ms',
    'spans',
    'success',
    'timestamp',
    'metadata',
  ],
  properties: {
    trace_id: { type: 'string' },
    operation: { type: 'string' },
    component: { type: 'string' },
    total_duration_ms: { type: 'number' },
    spans: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'duration_ms', 'status'],
        properties: {
          name: { type: 'string' },
          duration_ms: { type: 'number' },
          status: { type: 'string', enum: ['success', 'error'] },
          metadata: metadataMap,
        },
      },
    },
    success: { type: 'boolean' },
    timestamp: { type: 'string', format: 'date-time' },
    metadata: metadataMap,
  },
};

/** One stored alert rule. @internal */
export const alertRuleSchema = {
  type: 'object',
  required: [
    'alert_id',
    'name',
    'description',
    'severity',
    'component',
    'condition',
    'threshold',
    'duration_seconds',
    'notification_channels',
    'created_at',
    'acknowledged_at',
    'acknowledged_by',
  ],
  properties: {
    alert_id: { type: 'string' },
    name: { type: 'string' },
    description: { type: 'string' },
    severity: { type: 'string', enum: SEVERITIES },
    component: { type: 'string' },
    condition: { type: 'string' },
    threshold: { type: 'number', nullable: true },
    duration_seconds: { type: 'integer' },
    notification_channels: { type: 'array', items: { type: 'string' } },
    created_at: { type: 'string', format: 'date-time' },
    acknowledged_at: { type: 'string', format: 'date-time', nullable: true },
    acknowledged_by: { type: 'string', nullable: true },
    state: {
      type: 'string',
      enum: ['inactive', 'pending', 'firing'],
      description: "The state of the rule's alert in the server's evaluation.",
    },
  },
};

/** A pending or firing alert of the server's evaluation. @internal */
export const activeAlertSchema = {
  type: 'object',
  required: [
    'alert_id',
    'rule_id',
    'name',
    'severity',
    'component',
    'state',
    'active_at',
    'triggered_at',
    'value',
    'acknowledged_by',
    'acknowledged_at',
  ],
  properties: {
    alert_id: { type: 'string', description: 'The episode (pending to resolved).' },
    rule_id: { type: 'string' },
    name: { type: 'string' },
    severity: { type: 'string', enum: SEVERITIES },
    component: { type: 'string' },
    state: { type: 'string', enum: ['pending', 'firing'] },
    active_at: { type: 'string', format: 'date-time' },
    triggered_at: { type: 'string', format: 'date-time', nullable: true },
    value: { type: 'number', nullable: true },
    acknowledged_by: { type: 'string', nullable: true },
    acknowledged_at: { type: 'string', format: 'date-time', nullable: true },
  },
};

const alertEventItem = {
  type: 'object',
  properties: {
    alert_id: { type: 'string' },
    rule_id: { type: 'string' },
    name: { type: 'string' },
    severity: { type: 'string' },
    component: { type: 'string' },
    event: { type: 'string' },
    at: { type: 'string', format: 'date-time' },
    value: { type: 'number', nullable: true },
    by: { type: 'string', nullable: true },
  },
};

/** `GET /alerts`. @internal */
export const alertListSchema = {
  type: 'object',
  required: ['alerts', 'active_alerts', 'history', 'recent_events', 'evaluation'],
  properties: {
    alerts: { type: 'array', items: alertRuleSchema },
    active_alerts: { type: 'array', items: activeAlertSchema },
    history: {
      type: 'array',
      description: "The server's evaluation: transitions and actions, newest first.",
      items: alertEventItem,
    },
    recent_events: {
      type: 'array',
      description: 'Alert events monitors sent in batches, newest first.',
      items: alertEventItem,
    },
    evaluation: {
      type: 'string',
      description: 'Where the stored rules are evaluated: `server`.',
    },
  },
};

/** `POST /alerts` answer. @internal */
export const alertCreatedSchema = {
  type: 'object',
  required: ['success', 'message', 'alert_id', 'alert'],
  properties: {
    success: { type: 'boolean' },
    message: { type: 'string' },
    alert_id: { type: 'string' },
    alert: alertRuleSchema,
  },
};

/** Acknowledge / delete answer. @internal */
export const alertChangedSchema = {
  type: 'object',
  required: ['success', 'message', 'alert_id'],
  properties: {
    success: { type: 'boolean' },
    message: { type: 'string' },
    alert_id: { type: 'string' },
    alert: alertRuleSchema,
    active_alert: activeAlertSchema,
  },
};

/** `GET /healthz`. @internal */
export const healthzSchema = {
  type: 'object',
  required: ['status', 'timestamp'],
  properties: {
    status: { type: 'string', enum: ['ok', 'degraded'] },
    storage: { type: 'string' },
    timestamp: { type: 'string', format: 'date-time' },
  },
};

const numberMap = { type: 'object', additionalProperties: { type: 'number' } };

/** `GET /business-dashboard`. @internal */
export const businessDashboardSchema = {
  type: 'object',
  required: [
    'kpis',
    'trends',
    'targets',
    'user_metrics',
    'revenue_metrics',
    'growth_metrics',
    'quality_metrics',
    'generated_at',
  ],
  properties: {
    kpis: numberMap,
    trends: {
      type: 'object',
      additionalProperties: { type: 'string', enum: ['increasing', 'decreasing', 'stable'] },
    },
    targets: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        required: ['current', 'target', 'achievement'],
        properties: {
          current: { type: 'number' },
          target: { type: 'number' },
          achievement: { type: 'number' },
        },
      },
    },
    user_metrics: numberMap,
    revenue_metrics: numberMap,
    growth_metrics: numberMap,
    quality_metrics: numberMap,
    generated_at: { type: 'string', format: 'date-time' },
  },
};

// ---- GET /health and GET /analytics over the stored data (read/) ----------------------

/** `GET /health` and `GET /analytics` query. @internal */
export const readQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    component: text(
      100,
      'One component; absent: every component (health) or `default` (analytics). Unknown: 404.',
    ),
    service: text(
      200,
      'One service (`service.name` of its batches); absent: the whole fleet. Unknown: 404.',
    ),
    window: {
      type: 'string',
      enum: ['15m', '1h', '24h'],
      description: 'The window the numbers cover. Default `15m`.',
    },
  },
};

/** The mounted `GET /analytics` query (an in-process monitor has its own windows). @internal */
export const componentQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { component: text(100, "The component; absent: the monitor's default component.") },
};

const num = (description: string): Record<string, unknown> => ({ type: 'number', description });
const nullableNum = (description: string): Record<string, unknown> => ({
  type: 'number',
  nullable: true,
  description,
});
const obj = (
  properties: Record<string, unknown>,
  description?: string,
): Record<string, unknown> => ({
  type: 'object',
  required: Object.keys(properties),
  properties,
  ...(description === undefined ? {} : { description }),
});

const healthSpecProperties = {
  overall_health_score: num("0-100, one decimal: core's `computeHealthScore`."),
  system_metrics: obj({
    cpu_usage: num('Percent: the largest `cpu_usage` among live processes.'),
    memory_usage: num('Percent: the largest `memory_usage` among live processes.'),
    disk_usage: num('Percent: the largest `disk_usage` among live processes.'),
    network_io: obj({
      bytes_sent: num('Sum over processes of `network_io.bytes_sent`.'),
      bytes_recv: num('Sum over processes of `network_io.bytes_recv`.'),
    }),
    last_updated: { type: 'string', format: 'date-time' },
  }),
  recent_performance: obj({
    total_metrics: num('Histogram and timer samples plus counter increases in the window.'),
    metrics_per_minute: num('The same per minute of the time covered.'),
    error_count: num('Samples recorded as errors in the window.'),
    performance_average: num('Mean timer sample in the window, ms.'),
  }),
  active_alerts: {
    type: 'array',
    items: obj({
      alert_id: { type: 'string' },
      name: { type: 'string' },
      severity: { type: 'string', enum: SEVERITIES },
      component: { type: 'string' },
      triggered_at: { type: 'string', format: 'date-time' },
    }),
  },
  monitoring_status: obj({
    metrics_collected: num('Samples and counter totals since stored.'),
    active_traces: num('Traces with a span received in the window.'),
    configured_alerts: num('Alert rules stored.'),
    background_tasks_running: {
      type: 'boolean',
      description: 'False when a service stopped sending.',
    },
  }),
  timestamp: { type: 'string', format: 'date-time' },
};

const windowAndService = {
  window: { type: 'string', enum: ['15m', '1h', '24h'] },
  service: { type: 'string', nullable: true, description: 'The service asked for, or null.' },
};

/** `GET /health` over the stored data: the spec's object plus the fleet's parts. @internal */
export const fleetHealthSchema = obj(
  {
    ...healthSpecProperties,
    ...windowAndService,
    components: {
      type: 'array',
      items: obj({
        component: { type: 'string' },
        request_count: num('Histogram and timer samples in the window.'),
        error_count: num('Of them, errors.'),
        error_rate: num('error_count / request_count.'),
        average_response_time: num('Mean timer sample, ms.'),
        throughput_per_minute: num('Samples per minute.'),
      }),
    },
    services: {
      type: 'array',
      items: obj({
        service: { type: 'string' },
        live_instances: { type: 'integer' },
        last_seen: { type: 'string', format: 'date-time' },
        stale: { type: 'boolean' },
      }),
    },
    resources: obj({
      process_cpu_usage: nullableNum('0..1'),
      process_memory_rss: nullableNum('bytes'),
      process_heap_used: nullableNum('bytes'),
      event_loop_delay_p99: nullableNum('ms'),
      event_loop_utilization: nullableNum('0..1'),
    }),
  },
  "The spec's health object over the stored data of every service (or one).",
);

/** The mounted `GET /health`: `monitor.health()`, the spec's object. @internal */
export const healthSchema = obj(
  healthSpecProperties,
  "The spec's health object: `monitor.health()`.",
);

const TRENDS = ['improving', 'stable', 'degrading'];

const analyticsSpecProperties = {
  summary: obj({
    total_requests: num('Timer samples.'),
    average_response_time: num('Their mean, ms.'),
    error_rate: num('Errors over samples, 0..1.'),
    throughput_per_minute: num('Samples per minute of the window.'),
  }),
  trends: obj({
    response_time_trend: { type: 'string', enum: TRENDS },
    error_rate_trend: { type: 'string', enum: TRENDS },
    usage_pattern: obj({
      peak_hours: { type: 'array', items: { type: 'string' } },
      pattern: { type: 'string' },
    }),
  }),
  bottlenecks: { type: 'array', items: { type: 'string' } },
  recommendations: { type: 'array', items: { type: 'string' } },
  top_operations: {
    type: 'array',
    items: obj({
      operation: { type: 'string' },
      avg_duration_ms: { type: 'number' },
      request_count: { type: 'number' },
    }),
  },
  component: { type: 'string' },
  component_specific: {
    type: 'object',
    additionalProperties: { type: 'number' },
    description: "Domain ratios found among the component's metrics.",
  },
};

/** `GET /analytics` over the stored data: the spec's object plus evidence. @internal */
export const fleetAnalyticsSchema = obj(
  {
    ...analyticsSpecProperties,
    ...windowAndService,
    latency_percentiles: obj({
      count: num('Timer samples merged.'),
      p50: nullableNum('ms'),
      p90: nullableNum('ms'),
      p95: nullableNum('ms'),
      p99: nullableNum('ms'),
      p999: nullableNum('ms'),
    }),
    anomalies: {
      type: 'array',
      items: obj({
        metric: { type: 'string' },
        component: { type: 'string' },
        timestamp: { type: 'string', format: 'date-time' },
        value: { type: 'number' },
        baseline: { type: 'number' },
        score: { type: 'number' },
      }),
    },
    capacity: {
      type: 'array',
      items: obj({
        metric: { type: 'string' },
        component: { type: 'string' },
        current: { type: 'number' },
        threshold: { type: 'number' },
        time_to_threshold_seconds: nullableNum('null when not heading to the threshold'),
        summary: { type: 'string' },
        advice: { type: 'string', nullable: true },
      }),
    },
  },
  "The spec's analytics object over the stored data, with the evidence behind it.",
);

/** The mounted `GET /analytics`: `monitor.analytics({ component })`. @internal */
export const analyticsSchema = obj(
  analyticsSpecProperties,
  "The spec's analytics object: `monitor.analytics({ component })`.",
);

/**
 * `POST /business-metrics`: one KPI sample in the spec's shape, or the REST
 * exporter's batch `{ batch_id, source?, sent_at?, metrics: [...] }` of up to 1000
 * (a `batch_id` already stored is acknowledged and not stored again). @internal
 */
export const businessMetricsBodySchema = {
  description:
    'One business KPI in the spec\'s shape, or a batch `{ "batch_id", "metrics": [...] }` of up to 1000 (what `@prsm/exporters/rest` sends; a retried batch id is stored once).',
  oneOf: [
    businessMetricBodySchema,
    {
      type: 'object',
      additionalProperties: false,
      required: ['metrics'],
      properties: {
        batch_id: text(100, 'Kept across retries: a batch id already stored is ignored.'),
        source: sourceSchema,
        sent_at: timestamp('When the attempt was made.'),
        metrics: { type: 'array', minItems: 1, maxItems: 1000, items: businessMetricBodySchema },
      },
    },
  ],
};
