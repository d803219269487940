import {
  InvokeCommand,
  LambdaClient,
  ResourceNotFoundException,
  TooManyRequestsException,
} from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { InProcessInitialLoadStarter } from '../../../functions/lifecycle/in-process-initial-load-starter.ts';
import { LambdaInitialLoadStarter } from '../../../functions/lifecycle/lambda-initial-load-starter.ts';
import { createAwsLifecycleDeps } from '../../../functions/lifecycle-tasks/aws-deps.ts';

const lambda = mockClient(LambdaClient);
const RECONCILER = 'arn:aws:lambda:us-east-1:123456789012:function:virtuous-prod-reconciler';
const BULK_LOADER = 'arn:aws:lambda:us-east-1:123456789012:function:virtuous-prod-bulk-loader';

afterEach(() => lambda.reset());

const starter = () =>
  new LambdaInitialLoadStarter(new LambdaClient({ region: 'us-east-1' }), {
    reconciler: RECONCILER,
    bulkLoader: BULK_LOADER,
  });

const payloadOf = (call: number) =>
  JSON.parse(new TextDecoder().decode(lambda.commandCalls(InvokeCommand)[call]?.args[0].input.Payload as Uint8Array));

describe('LambdaInitialLoadStarter', () => {
  it('invokes the reconciler asynchronously with the customer id only', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
    await starter().start('acme', 'reconciliation');
    const input = lambda.commandCalls(InvokeCommand)[0]?.args[0].input;
    expect(input).toMatchObject({ FunctionName: RECONCILER, InvocationType: 'Event' });
    expect(payloadOf(0)).toEqual({ customerId: 'acme' });
  });

  it('invokes the bulk loader asynchronously for the Stripe Connect initial load, ids only', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
    await starter().start('acme', 'stripe-connect');
    const input = lambda.commandCalls(InvokeCommand)[0]?.args[0].input;
    expect(input).toMatchObject({ FunctionName: BULK_LOADER, InvocationType: 'Event' });
    expect(payloadOf(0)).toEqual({ customerId: 'acme', loadId: 'initial-load', source: 'stripe-connect' });
  });

  it('classifies failures: throttling and an unqueued event are transient, a missing function is permanent', async () => {
    lambda
      .on(InvokeCommand)
      .rejectsOnce(new TooManyRequestsException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 429 } }))
      .resolvesOnce({ StatusCode: 200 })
      .rejectsOnce(
        new ResourceNotFoundException({ message: 'Function not found', $metadata: { httpStatusCode: 404 } }),
      );
    await expect(starter().start('acme', 'reconciliation')).rejects.toMatchObject({
      name: 'TransientError',
      code: 'LAMBDA_UNAVAILABLE',
    });
    await expect(starter().start('acme', 'reconciliation')).rejects.toMatchObject({
      name: 'TransientError',
      code: 'INITIAL_LOAD_NOT_QUEUED',
    });
    await expect(starter().start('acme', 'reconciliation')).rejects.toMatchObject({
      name: 'PermanentError',
      code: 'ResourceNotFoundException',
    });
  });

  it('refuses a malformed customer id before calling Lambda', async () => {
    await expect(starter().start('../acme', 'reconciliation')).rejects.toMatchObject({
      name: 'ForbiddenInputError',
    });
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
  });

  it('is wired from the two function ARNs in the environment; a missing one fails by name', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
    const deps = createAwsLifecycleDeps({
      AWS_REGION: 'us-east-1',
      RECONCILER_FUNCTION_ARN: RECONCILER,
      BULK_LOADER_FUNCTION_ARN: BULK_LOADER,
    });
    await deps.initialLoads.start('acme', 'stripe-connect');
    expect(lambda.commandCalls(InvokeCommand)[0]?.args[0].input.FunctionName).toBe(BULK_LOADER);
    expect(() => createAwsLifecycleDeps({ AWS_REGION: 'us-east-1' }).initialLoads).toThrow(
      expect.objectContaining({ code: 'MISSING_SETTING', message: expect.stringContaining('RECONCILER_FUNCTION_ARN') }),
    );
  });
});

describe('InProcessInitialLoadStarter', () => {
  it('calls the handler without waiting for it and swallows its failure after logging the code', async () => {
    const calls: unknown[] = [];
    let finish: () => void = () => undefined;
    const local = new InProcessInitialLoadStarter({
      reconcile: (event) => {
        calls.push({ reconcile: event });
        return new Promise<void>((resolve) => {
          finish = resolve;
        });
      },
      bulkLoad: async (event) => {
        calls.push({ bulkLoad: event });
        throw new Error('boom');
      },
    });
    await local.start('acme', 'reconciliation');
    await local.start('acme', 'stripe-connect');
    expect(calls).toEqual([
      { reconcile: { customerId: 'acme' } },
      { bulkLoad: { customerId: 'acme', loadId: 'initial-load', source: 'stripe-connect' } },
    ]);
    let idle = false;
    const waiting = local.idle().then(() => {
      idle = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(idle).toBe(false);
    finish();
    await waiting;
    expect(idle).toBe(true);
  });
});
