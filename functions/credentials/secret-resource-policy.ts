/**
 * The resource policy every customer secret gets right after CreateSecret and before it holds any value.
 * Nobody but the scoped customer-secrets roles can read a value, whatever their identity policies say (an account
 * administrator included), and nobody else can replace or remove this policy. Reads must name a staging label, so
 * a version whose labels were all removed (a deleted previous) cannot be read back by its version id.
 *
 * Break-glass is deliberately not a door in this policy: it is a temporary, reviewed trust-policy change that lets a
 * break-glass role assume the scoped writer role (functions/credentials/README.md), which CloudTrail records.
 */
export interface PolicyDocument {
  readonly Version: '2012-10-17';
  readonly Statement: readonly Record<string, unknown>[];
}

export function secretResourcePolicy(scopedRoleArns: readonly string[]): PolicyDocument {
  const notScoped = { ArnNotEquals: { 'aws:PrincipalArn': [...scopedRoleArns] } };
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'DenyValueReadsExceptScopedRoles',
        Effect: 'Deny',
        Principal: '*',
        Action: 'secretsmanager:GetSecretValue',
        Resource: '*',
        Condition: notScoped,
      },
      {
        Sid: 'DenyPolicyChangesExceptScopedRoles',
        Effect: 'Deny',
        Principal: '*',
        Action: ['secretsmanager:PutResourcePolicy', 'secretsmanager:DeleteResourcePolicy'],
        Resource: '*',
        Condition: notScoped,
      },
      {
        Sid: 'DenyReadsOfUnlabelledVersions',
        Effect: 'Deny',
        Principal: '*',
        Action: 'secretsmanager:GetSecretValue',
        Resource: '*',
        Condition: { Null: { 'secretsmanager:VersionStage': 'true' } },
      },
    ],
  };
}
