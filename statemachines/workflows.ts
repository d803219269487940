/**
 * The lifecycle workflows: one Amazon States Language file each (JSONPath, so the same file runs on AWS and in
 * aws-local-stepfunctions), the Lambda entry that serves its Task states, and the definition substitutions CDK fills.
 * CDK, the one-machine runtime and the workflow tests all load workflows through this table.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { WorkflowName } from '../functions/customers/customer.ts';

export interface WorkflowDefinition {
  readonly name: WorkflowName;
  /** ASL file beside this module. */
  readonly file: string;
  /** Entry (relative to the repository root) of the Lambda that runs this workflow's Task states. */
  readonly tasksEntry: string;
  /** `${Name}` placeholders in the file that CDK substitutes (every one must be provided). */
  readonly substitutions: readonly string[];
  /** The execution input, as documented for starts from the console, the API and the CLI: ids only, never a secret. */
  readonly input: string;
}

export const WORKFLOWS: Readonly<Record<WorkflowName, WorkflowDefinition>> = {
  onboarding: {
    name: 'onboarding',
    file: 'onboarding.asl.json',
    tasksEntry: 'functions/lifecycle-tasks/onboarding.ts',
    substitutions: ['TasksFunctionArn'],
    input: '{"customerId": "acme"} (started by POST /lifecycle/customers/{id}/api-token, which stores the key first)',
  },
  'token-rotation': {
    name: 'token-rotation',
    file: 'token-rotation.asl.json',
    tasksEntry: 'functions/lifecycle-tasks/token-rotation.ts',
    substitutions: ['TasksFunctionArn'],
    input:
      '{"customerId": "acme", "expedited"?: true} (the new key arrives by POST /lifecycle/customers/{id}/rotation-token)',
  },
  'webhook-secret-rotation': {
    name: 'webhook-secret-rotation',
    file: 'webhook-secret-rotation.asl.json',
    tasksEntry: 'functions/lifecycle-tasks/webhook-secret-rotation.ts',
    substitutions: ['TasksFunctionArn'],
    input: '{"customerId": "acme"}',
  },
  offboarding: {
    name: 'offboarding',
    file: 'offboarding.asl.json',
    tasksEntry: 'functions/lifecycle-tasks/offboarding.ts',
    substitutions: ['TasksFunctionArn'],
    input: '{"customerId": "acme"}',
  },
  'incident-response': {
    name: 'incident-response',
    file: 'incident-response.asl.json',
    tasksEntry: 'functions/lifecycle-tasks/incident-response.ts',
    substitutions: ['TasksFunctionArn', 'TokenRotationStateMachineArn'],
    input: '{"customerId": "acme"} (the nested expedited token rotation waits for the new key like token-rotation)',
  },
};

export function workflowFilePath(name: WorkflowName): string {
  return fileURLToPath(new URL(WORKFLOWS[name].file, import.meta.url));
}

/** The ASL document as written in the file (placeholders intact). */
export function readWorkflowDefinition(name: WorkflowName): string {
  return readFileSync(workflowFilePath(name), 'utf8');
}
