/**
 * audit/: the server's audit routes (`POST /audit`, `GET /audit`, `GET /audit/verify`)
 * and their schemas. The records are stored by store/audit.ts. This file: the JSON
 * schemas, strict like every other route's (no coercion, an unknown field is a 400),
 * in OpenAPI 3.0 keywords only. Imports nothing.
 */

const MAX = Number.MAX_SAFE_INTEGER;
const HASH = { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'SHA-256, hex.' };
const field = (description: string): Record<string, unknown> => ({
  type: 'string',
  maxLength: 4096,
  description,
});

const entryProperties = {
  timestamp: {
    type: 'string',
    format: 'date-time',
    maxLength: 40,
    description: 'When it happened.',
  },
  user_id: field('Who acted.'),
  action: field('What they did.'),
  resource_type: field('On what kind of resource.'),
  resource_id: field('On which resource.'),
  outcome: field('`success`, `failure`, `denied`...'),
  ip_address: field('From where.'),
  user_agent: field('With what client.'),
  session_id: field('In which session.'),
  request_id: field('In which request.'),
  metadata: {
    type: 'object',
    maxProperties: 256,
    additionalProperties: {},
    description: 'Free-form details (redacted by the sender before sealing).',
  },
  compliance_tags: {
    type: 'array',
    maxItems: 64,
    items: { type: 'string', minLength: 1, maxLength: 100 },
  },
  seq: { type: 'integer', minimum: 0, maximum: MAX, description: 'Its place in the chain.' },
  prev_hash: { ...HASH, description: "The previous record's hash (64 zeros for the first)." },
  hash: { ...HASH, description: 'SHA-256 of the canonical JSON of the record without `hash`.' },
};

/** One record of `POST /audit`: the spec's `audit_log_entry` and the chain fields. @internal */
export const auditEntrySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['timestamp', 'seq', 'prev_hash', 'hash'],
  properties: entryProperties,
};

/** `POST /audit`. @internal */
export const auditBatchBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['source', 'entries'],
  description:
    'Records of one chain as the sending audit log sealed them (what `restAuditSink` of `@prsm/exporters/rest` sends).',
  properties: {
    batch_id: {
      type: 'string',
      minLength: 1,
      maxLength: 100,
      description: 'Kept across retries: a batch id already stored is acknowledged and ignored.',
    },
    source: {
      type: 'string',
      minLength: 1,
      maxLength: 200,
      pattern: '^[^\\u0000-\\u001f]+$',
      description: 'The chain (one per audit log).',
    },
    sent_at: { type: 'string', format: 'date-time', maxLength: 40 },
    entries: { type: 'array', minItems: 1, maxItems: 1000, items: auditEntrySchema },
  },
};

/** The answer of `POST /audit`. @internal */
export const auditIngestResponseSchema = {
  type: 'object',
  required: ['success', 'duplicate', 'stored', 'ignored', 'chain', 'message'],
  properties: {
    success: { type: 'boolean' },
    duplicate: { type: 'boolean' },
    batch_id: { type: 'string' },
    stored: { type: 'integer' },
    ignored: { type: 'integer' },
    chain: {
      type: 'string',
      enum: ['linked', 'gap', 'mismatch'],
      description:
        "`linked`: every new record follows its stored predecessor; `gap`: a predecessor is missing; `mismatch`: a `prev_hash` is not its stored predecessor's hash. Stored either way; `GET /audit/verify` reports the break until the chain is whole.",
    },
    chain_message: { type: 'string' },
    message: { type: 'string' },
  },
};

/** `GET /audit` query. @internal */
export const auditQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    from: { type: 'string', format: 'date-time', description: 'At or after (ISO 8601).' },
    to: { type: 'string', format: 'date-time', description: 'Before (ISO 8601).' },
    user_id: { type: 'string', minLength: 1, maxLength: 4096 },
    action: { type: 'string', minLength: 1, maxLength: 4096 },
    source: { type: 'string', minLength: 1, maxLength: 200 },
    limit: {
      type: 'string',
      pattern: '^(?:[1-9][0-9]{0,2}|1000)$',
      description: 'At most this many records (1 to 1000). Default 100.',
    },
  },
};

/** `GET /audit` answer. @internal */
export const auditListSchema = {
  type: 'object',
  required: ['entries', 'count'],
  properties: {
    entries: {
      type: 'array',
      items: {
        type: 'object',
        required: ['source', 'timestamp', 'seq', 'prev_hash', 'hash'],
        properties: {
          source: { type: 'string' },
          ...entryProperties,
          metadata: { type: 'object', additionalProperties: true },
        },
      },
    },
    count: { type: 'integer' },
  },
};

/** `GET /audit/verify` query. @internal */
export const auditVerifyQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { source: { type: 'string', minLength: 1, maxLength: 200 } },
};

/** `GET /audit/verify` answer. @internal */
export const auditVerifySchema = {
  type: 'object',
  required: ['ok', 'sources'],
  properties: {
    ok: { type: 'boolean', description: 'Every chain verifies.' },
    sources: {
      type: 'array',
      items: {
        type: 'object',
        required: ['source', 'ok', 'records', 'first_seq', 'last_seq', 'head_hash'],
        properties: {
          source: { type: 'string' },
          ok: { type: 'boolean' },
          records: { type: 'integer' },
          first_seq: { type: 'integer', nullable: true },
          last_seq: { type: 'integer', nullable: true },
          head_hash: { type: 'string', nullable: true },
          first_break: {
            type: 'object',
            required: ['seq', 'index', 'problem', 'message'],
            description: 'The first record that breaks the chain.',
            properties: {
              seq: { type: 'integer', nullable: true },
              index: { type: 'integer' },
              problem: {
                type: 'string',
                enum: ['changed', 'removed', 'inserted', 'reordered', 'malformed'],
              },
              message: { type: 'string' },
            },
          },
        },
      },
    },
    retention: {
      type: 'object',
      required: ['configured', 'last_run', 'removed', 'expired'],
      description:
        "Retention of the stored records (the server's `--audit-retention`): each cut is an `audit.retention_cut` record in the `prsm-server` chain.",
      properties: {
        configured: { type: 'boolean' },
        last_run: {
          type: 'string',
          nullable: true,
          description: 'ISO 8601; null before the first.',
        },
        removed: { type: 'integer', description: 'Records removed by the last run.' },
        expired: {
          type: 'integer',
          description: 'Records still stored past their retention after the last run.',
        },
      },
    },
  },
};
