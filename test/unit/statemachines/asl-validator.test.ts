/**
 * Every workflow's ASL file checked by asl-validator (JSON schema of the States Language, JSONPath syntax in the path
 * fields, transition targets, terminal states, Resource ARNs) as Step Functions receives it: with the `${Name}`
 * placeholders filled the way CDK fills them, with ARNs of the deployed shape.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type { WorkflowName } from '../../../functions/customers/customer.ts';
import { type AslDocument, loadDefinition } from '../../../functions/lifecycle-tasks/local-runner.ts';
import { WORKFLOWS } from '../../../statemachines/workflows.ts';

interface AslValidationError {
  readonly 'Error code': string;
  readonly Message: string;
  readonly schemaError?: { readonly instancePath: string };
}
type AslValidator = (
  definition: unknown,
  options?: { checkPaths: boolean; checkArn: boolean },
) => { isValid: boolean; errors: AslValidationError[] };

// asl-validator is CommonJS without type declarations.
const validateAsl = createRequire(import.meta.url)('asl-validator') as AslValidator;

const NAMES = Object.keys(WORKFLOWS) as WorkflowName[];
const ACCOUNT_AND_REGION = 'us-east-1:123456789012';

/** What CDK puts in each placeholder (infra/aws/constructs/workflows.ts): ARNs of the deployed shape. */
function deployedSubstitutions(workflow: WorkflowName): Record<string, string> {
  const values: Record<string, string> = {
    TasksFunctionArn: `arn:aws:lambda:${ACCOUNT_AND_REGION}:function:virtuous-staging-${workflow}-tasks`,
    TokenRotationStateMachineArn: `arn:aws:states:${ACCOUNT_AND_REGION}:stateMachine:virtuous-staging-token-rotation`,
  };
  for (const name of WORKFLOWS[workflow].substitutions) {
    if (!(name in values)) throw new Error(`no deployed-shape value for \${${name}} of ${workflow}`);
  }
  return values;
}

/** Each error as `file path code: message`, so a failure names where to look. */
function aslErrors(workflow: WorkflowName, document: AslDocument): string[] {
  // The validator writes default QueryLanguage fields into the document it checks: give it a copy.
  const { errors } = validateAsl(structuredClone(document), { checkPaths: true, checkArn: true });
  return errors.map(
    (error) =>
      `${WORKFLOWS[workflow].file} ${error.schemaError?.instancePath || '(machine)'} ${error['Error code']}: ${error.Message}`,
  );
}

describe.each(NAMES)('%s.asl.json', (workflow) => {
  it('is valid Amazon States Language after the CDK substitutions', () => {
    expect(aslErrors(workflow, loadDefinition(workflow, deployedSubstitutions(workflow)))).toEqual([]);
  });
});

describe('asl-validator on this project', () => {
  const workflow: WorkflowName = 'onboarding';
  const document = loadDefinition(workflow, deployedSubstitutions(workflow));
  const [firstState] = Object.keys(document.States);

  it('names the file and the path of an invalid field', () => {
    const broken = structuredClone(document) as { States: Record<string, Record<string, unknown>> };
    (broken.States[firstState as string] as Record<string, unknown>).ResultPath = '$.result[';
    expect(aslErrors(workflow, broken as unknown as AslDocument)).toContainEqual(
      expect.stringMatching(
        new RegExp(`^onboarding\\.asl\\.json /States/${firstState}/ResultPath SCHEMA_VALIDATION_FAILED: `),
      ),
    );
  });

  it('reports a transition to a state that does not exist', () => {
    const broken = structuredClone(document) as { StartAt: string };
    broken.StartAt = 'NoSuchState';
    expect(aslErrors(workflow, broken as unknown as AslDocument)).toContainEqual(
      expect.stringMatching(/^onboarding\.asl\.json \(machine\) MISSING_TRANSITION_TARGET: .*NoSuchState/),
    );
  });
});
