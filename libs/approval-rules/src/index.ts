// The public surface of @fortellis-admin/approval-rules: the provider's approval rules (schema,
// compile, decide), the reading of a rules file with the place of each problem, and the dry run
// that the approval worker, `npm run rules:check` and the operators' API share.
export * from './approval-rules.ts';
export * from './rules-file.ts';
export * from './rules-check.ts';
