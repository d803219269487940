/**
 * The cdk-nag packs the app is checked against, registered as policy-validation plugins: synthesis fails on any
 * unacknowledged finding and cdk.out/validation-report.json names each one (rule, construct path).
 *
 * cdk-nag leaves acknowledged findings out of the report. To show how many findings each acknowledgement covers
 * (and catch acknowledgements that no longer match anything), each pack's acknowledgement check is observed and
 * every acknowledged finding recorded.
 */

import { AwsSolutionsChecks, type NagPack, NIST80053R5Checks, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';

export interface AcknowledgedFinding {
  readonly pack: string;
  readonly ruleId: string;
  readonly constructPath: string;
}

export const NAG_PACK_NAMES = ['AwsSolutions', 'Serverless', 'NIST.800.53.R5'] as const;

type AcknowledgementCheck = (resource: IConstruct, ruleId: string) => boolean;

export function createNagPacks(app: IConstruct): { packs: NagPack[]; acknowledged: AcknowledgedFinding[] } {
  const acknowledged: AcknowledgedFinding[] = [];
  const packs: NagPack[] = [new AwsSolutionsChecks(app), new ServerlessChecks(app), new NIST80053R5Checks(app)];
  for (const pack of packs) {
    const observable = pack as unknown as { isAcknowledged?: AcknowledgementCheck };
    const original = observable.isAcknowledged;
    if (typeof original !== 'function') {
      throw new Error('cdk-nag changed: NagPack.isAcknowledged is gone; update infra/aws/nag/packs.ts');
    }
    observable.isAcknowledged = (resource, ruleId) => {
      const result = original.call(pack, resource, ruleId);
      if (result) acknowledged.push({ pack: pack.readPackName, ruleId, constructPath: resource.node.path });
      return result;
    };
  }
  return { packs, acknowledged };
}
