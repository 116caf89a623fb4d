// The dry run of an approval rules file for operators: POST the file's text (and sample
// activations, or none to use the last stored ones) and read its problems, each with its rule and
// line, or which rule fires for each activation and what Fortellis would be sent. 200 either way:
// an invalid file is the answer, not a bad request. Bounded: a body over RULES_CHECK_BODY_LIMIT is
// 413 PAYLOAD_TOO_LARGE, rules text or samples over their limits 400 CONTRACT_VIOLATION, and the
// samples are tried for RULES_DRY_RUN_TIME_LIMIT_MS at most (`complete: false` past it).
import type { FastifyPluginAsync } from 'fastify';
import {
  dryRunRules,
  type RulesDryRunPorts,
  type RulesDryRunRequest,
} from '../domain/rules-dry-run.ts';

/** The most samples (posted, or stored ones via `lastStored`) a dry run tries. */
export const MAX_SAMPLES = 200;
/** The longest rules text (characters). */
export const MAX_RULES_TEXT = 256 * 1024;
/** The largest request body: the rules text and MAX_SAMPLES activations with room to spare. */
export const RULES_CHECK_BODY_LIMIT = 1024 * 1024;

export const rulesRoutes: FastifyPluginAsync<RulesDryRunPorts> = async (app, ports) => {
  app.post<{ Body: RulesDryRunRequest }>(
    '/ops/rules/check',
    {
      config: { role: 'admin' },
      // A rules file and a few hundred activations are more than the listener's 16 KiB default.
      bodyLimit: RULES_CHECK_BODY_LIMIT,
      schema: {
        summary: 'Dry run of an approval rules file: its problems, or what it decides for samples',
        body: {
          type: 'object',
          required: ['rules'],
          properties: {
            rules: { type: 'string', minLength: 1, maxLength: MAX_RULES_TEXT },
            format: { type: 'string', enum: ['json', 'yaml'] },
            samples: { type: 'array', maxItems: MAX_SAMPLES, items: { type: 'object' } },
            lastStored: { type: 'integer', minimum: 1, maximum: MAX_SAMPLES },
          },
          additionalProperties: false,
        },
      },
    },
    async (request) => dryRunRules(ports, request.body),
  );
};
