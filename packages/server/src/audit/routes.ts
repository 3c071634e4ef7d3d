/**
 * The audit routes, registered by the server under `/api/v1/monitoring`:
 *
 * - `POST /audit` (role `ingest`): records of one chain, as the sender sealed them.
 * - `GET /audit?from=&to=&user_id=&action=&source=&limit=` (role `admin`): stored
 *   records. Admin, not `read`: the trail names users, IP addresses and user agents
 *   (personal data under GDPR) and is a compliance record; the spec already keeps
 *   the business dashboard from plain `read` keys, and dashboards hold `read` keys.
 * - `GET /audit/verify?source=` (role `read`): whether each stored chain verifies,
 *   and the first record that breaks it. It reveals sequence numbers and hashes
 *   only, so a monitoring dashboard may watch it.
 *
 * May import store/audit.ts and http/.
 */
import type { FastifyInstance } from 'fastify';

import { HttpError } from '../http/errors.js';
import { errorResponses } from '../http/schemas.js';
import { type AuditBatchInput, type AuditQuery, auditStoreOf } from '../store/audit.js';
import {
  auditBatchBodySchema,
  auditIngestResponseSchema,
  auditListSchema,
  auditQuerySchema,
  auditVerifyQuerySchema,
  auditVerifySchema,
} from './schemas.js';

const NO_BODY = { type: 'object', additionalProperties: false, properties: {} };
const AUTH = [401, 403, 429];

/**
 * Registers the audit routes on `api` (a Fastify instance under the API prefix)
 * for `store`. @internal
 */
export function registerAuditRoutes(api: FastifyInstance, store: object): void {
  const audit = auditStoreOf(store);

  api.post<{ Body: AuditBatchInput }>(
    '/audit',
    {
      config: {
        permission: 'ingest',
        summary: 'Store audit records (a chain as its log sealed it)',
        description:
          "Each record's hash is recomputed (SHA-256 of its canonical JSON): a mismatch is a 400. A record already stored at its `seq` with the same hash is ignored (a retry); with another hash, a 409 (two logs under one `source`, or a rewritten record). A gap or a record that does not link to its stored predecessor is stored all the same and answered with `chain: gap` or `mismatch`; `GET /audit/verify` reports it until the chain is whole. A `batch_id` already stored is acknowledged with `duplicate: true`. `x-prsm-batch-id`, when sent, must equal `batch_id`.",
      },
      schema: {
        body: auditBatchBodySchema,
        querystring: NO_BODY,
        response: {
          200: auditIngestResponseSchema,
          ...errorResponses([400, ...AUTH, 409, 413, 415]),
        },
      },
    },
    (request) => {
      const header = request.headers['x-prsm-batch-id'];
      if (
        header !== undefined &&
        request.body.batch_id !== undefined &&
        header !== request.body.batch_id
      ) {
        throw new HttpError(
          400,
          'batch_id_mismatch',
          'x-prsm-batch-id',
          'the x-prsm-batch-id header must equal batch_id',
        );
      }
      const result = audit.ingest(request.body);
      return {
        success: true,
        ...result,
        ...(request.body.batch_id !== undefined && { batch_id: request.body.batch_id }),
        message: result.duplicate
          ? 'batch already stored; ignored'
          : `${result.stored} audit record(s) stored`,
      };
    },
  );

  api.get<{ Querystring: Omit<AuditQuery, 'limit'> & { limit?: string } }>(
    '/audit',
    {
      config: {
        permission: 'admin',
        summary: 'Stored audit records (admin role)',
        description:
          'Oldest first, read from the stored records themselves. Admin only: the trail holds user ids, IP addresses and user agents.',
      },
      schema: {
        querystring: auditQuerySchema,
        response: { 200: auditListSchema, ...errorResponses([400, ...AUTH]) },
      },
    },
    (request) => {
      const { limit, ...rest } = request.query;
      const entries = audit.list({ ...rest, ...(limit !== undefined && { limit: Number(limit) }) });
      return { entries, count: entries.length };
    },
  );

  api.get<{ Querystring: { source?: string } }>(
    '/audit/verify',
    {
      config: {
        permission: 'read',
        summary: 'Verify the stored audit chains',
        description:
          "Per source: every row must agree with its stored record, and the records, by `seq`, must chain from the source's first record (its hash, `prev_hash` and `seq` links). `first_break` names the first record that was changed, removed, inserted or reordered.",
      },
      schema: {
        querystring: auditVerifyQuerySchema,
        response: { 200: auditVerifySchema, ...errorResponses([400, ...AUTH, 404]) },
      },
    },
    (request) => {
      const source = request.query.source;
      if (source !== undefined && !audit.sources().includes(source)) {
        throw new HttpError(404, 'not_found', 'source', 'no audit record of this source is stored');
      }
      const sources = audit.verify(source);
      const last = audit.lastRetention();
      return {
        ok: sources.every((s) => s.ok),
        sources,
        retention: {
          configured: audit.retention() !== undefined,
          last_run: last === undefined ? null : new Date(last.at).toISOString(),
          removed: last?.removed ?? 0,
          expired: last?.expired ?? 0,
        },
      };
    },
  );
}
