// Fastify's own validation errors (query, params, body) become the API's 400 answer: a
// ContractViolationError naming each offending member by its JSON pointer.
import type { FastifyInstance } from 'fastify';
import { ContractViolationError } from '@fortellis-admin/contracts';

type SchemaErrorFormatter = Parameters<FastifyInstance['setSchemaErrorFormatter']>[0];

export const contractViolationFormatter: SchemaErrorFormatter = (errors, dataVar) => {
  const issues = errors.map((error) => ({
    pointer: `/${(error.params as { additionalProperty?: string }).additionalProperty ?? error.instancePath.replace(/^\//, '')}`,
    message: error.message ?? 'is invalid',
  }));
  return new ContractViolationError(dataVar, issues);
};
