// The dry run of an approval rules file for operators: POST the file's text (and sample
// activations, or none to use the last stored ones) and read its problems, each with its rule and
// line, or which rule fires for each activation and what Fortellis would be sent. 200 either way:
// an invalid file is the answer, not a bad request.
import type { FastifyPluginAsync } from 'fastify';
import {
  dryRunRules,
  type RulesDryRunPorts,
  type RulesDryRunRequest,
} from '../domain/rules-dry-run.ts';

const MAX_SAMPLES = 200;

export const rulesRoutes: FastifyPluginAsync<RulesDryRunPorts> = async (app, ports) => {
  app.post<{ Body: RulesDryRunRequest }>(
    '/ops/rules/check',
    {
      // A rules file and a few hundred activations are more than the listener's 16 KiB default.
      bodyLimit: 1024 * 1024,
      schema: {
        summary: 'Dry run of an approval rules file: its problems, or what it decides for samples',
        body: {
          type: 'object',
          required: ['rules'],
          properties: {
            rules: { type: 'string', minLength: 1, maxLength: 256 * 1024 },
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
