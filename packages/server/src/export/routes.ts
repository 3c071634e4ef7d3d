/**
 * `GET /export` (under `/api/v1/monitoring`): the BI export of `stream.ts` behind the
 * server's auth. The route needs `read`; the `business` dataset `enterprise` (as the
 * business dashboard does) and `audit` `admin` (as `GET /audit` does: the trail names
 * users and IP addresses). May import export/, auth/ and http/.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';

import { roleAllows, type Permission, type Role } from '../auth/keys.js';
import { HttpError } from '../http/errors.js';
import { errorResponses } from '../http/schemas.js';
import {
  EXPORT_COLUMNS,
  EXPORT_DATASETS,
  EXPORT_FORMATS,
  EXPORT_TIME_PATTERN,
  parseExportTime,
} from './datasets.js';
import type { ExportDataset, ExportFormat } from './datasets.js';
import { exportContentType, openExportStream } from './stream.js';

/** The query of `GET /export`. @internal */
export const exportQuerySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['dataset'],
  properties: {
    dataset: {
      type: 'string',
      enum: [...EXPORT_DATASETS],
      description:
        '`metrics` (role read), `alerts` (read), `business` (enterprise), `audit` (admin).',
    },
    format: {
      type: 'string',
      enum: [...EXPORT_FORMATS],
      description: '`csv` (RFC 4180, header row; the default) or `jsonl` (one object a line).',
    },
    from: {
      type: 'string',
      maxLength: 40,
      pattern: EXPORT_TIME_PATTERN,
      description: 'Rows at or after this time (ISO 8601 date or date-time with a zone).',
    },
    to: {
      type: 'string',
      maxLength: 40,
      pattern: EXPORT_TIME_PATTERN,
      description: 'Rows before this time (ISO 8601). Must not be before `from`.',
    },
  },
} as const;

const PERMISSION: Readonly<Record<ExportDataset, Permission>> = {
  metrics: 'read',
  alerts: 'read',
  business: 'enterprise',
  audit: 'admin',
};

function time(name: 'from' | 'to', value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseExportTime(value);
  if (ms === undefined) {
    throw new HttpError(400, 'invalid_format', name, `${name} is not a valid ISO 8601 time`);
  }
  return ms;
}

/** Options of {@link registerExportRoutes}. @internal */
export interface ExportRouteOptions {
  /** The role of the request's key (set by the server's auth hook), or undefined. */
  readonly roleOf: (request: FastifyRequest) => Role | undefined;
}

/**
 * Registers `GET /export` on `api` (a Fastify instance under the API prefix), reading
 * the SQLite file at `dbPath`. @internal
 */
export function registerExportRoutes(
  api: FastifyInstance,
  dbPath: string,
  options: ExportRouteOptions,
): void {
  const columns = Object.entries(EXPORT_COLUMNS)
    .map(([name, cols]) => `\`${name}\`: ${cols.map((c) => `\`${c}\``).join(', ')}`)
    .join('; ');
  api.get<{
    Querystring: { dataset: ExportDataset; format?: ExportFormat; from?: string; to?: string };
  }>(
    '/export',
    {
      config: {
        permission: 'read',
        summary: 'BI export of a dataset as CSV or JSON Lines, streamed',
        description: `For Tableau and similar tools: the rows with a time in [from, to), oldest first, streamed from one snapshot of the database (a slow reader holds back the query, not the server's memory). CSV is RFC 4180 with a header row and CRLF line ends; JSONL is one object a line with the same keys. Times are ISO 8601 UTC; JSON columns (tags, metadata, compliance_tags) are JSON text. Columns: ${columns}. \`business\` needs the enterprise role, \`audit\` admin. A server on \`:memory:\` answers 409.`,
        docResponses: {
          200: {
            type: 'string',
            contentType: 'text/csv',
            description: 'CSV (format=csv) or JSON Lines (format=jsonl, application/x-ndjson).',
          },
        },
      },
      schema: {
        querystring: exportQuerySchema,
        response: errorResponses([400, 401, 403, 409, 429]),
      },
    },
    (request, reply) => {
      const { dataset, format = 'csv' } = request.query;
      const role = options.roleOf(request);
      const permission = PERMISSION[dataset];
      if (role === undefined || !roleAllows(role, permission)) {
        throw new HttpError(
          403,
          'forbidden',
          'dataset',
          `the ${dataset} dataset needs the ${permission} permission; the key's role is ${role ?? 'none'}`,
        );
      }
      const from = time('from', request.query.from);
      const to = time('to', request.query.to);
      if (from !== undefined && to !== undefined && from > to) {
        throw new HttpError(400, 'out_of_range', 'from', 'from must not be after to');
      }
      if (dbPath === ':memory:' || dbPath === '') {
        throw new HttpError(
          409,
          'export_unavailable',
          'dataset',
          'this server keeps its data in memory; the export reads a database file',
        );
      }
      const stream = openExportStream(dbPath, {
        dataset,
        format,
        ...(from === undefined ? {} : { from }),
        ...(to === undefined ? {} : { to }),
      });
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      return reply
        .type(exportContentType(format))
        .header('cache-control', 'no-store')
        .header(
          'content-disposition',
          `attachment; filename="prsm-${dataset}-${stamp}.${format === 'csv' ? 'csv' : 'jsonl'}"`,
        )
        .send(stream);
    },
  );
}
