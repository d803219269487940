// biome-ignore-all lint/suspicious/noExplicitAny: CloudFormation template JSON is untyped; these assertions walk it structurally
/**
 * Egress addresses across a recreated stack. By default the stack allocates its own Elastic IPs (retained when the
 * stack is deleted, so a new stack would get new ones); given `egressIpAllocations`, it allocates none and puts its
 * NAT gateways on the existing ones, and publishes those addresses in its outputs and SSM parameter.
 */
import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { readConfig } from '../../infra/aws/config.ts';
import { AZ_COUNT } from '../../infra/aws/constructs/network.ts';
import { resourcesOfType, synthesize } from './synth.ts';

const KEPT = [
  { allocationId: 'eipalloc-0a1b2c3d4e5f60718', publicIp: '198.51.100.17' },
  { allocationId: 'eipalloc-0f9e8d7c6b5a49382', publicIp: '198.51.100.42' },
];

function config(context: Record<string, unknown>) {
  return readConfig(new App({ context: { environmentName: 'staging', ...context } }).node);
}

const outputs = (json: any) =>
  Object.fromEntries(Object.entries(json.Outputs as Record<string, any>).filter(([name]) => /^EgressIp\d$/.test(name)));
const parameterValue = (json: any) => {
  const [[, parameter]] = resourcesOfType(json, 'AWS::SSM::Parameter').filter(
    ([, p]) => p.Properties.Name === '/virtuous/staging/egress-ips',
  ) as [[string, any]];
  return parameter.Properties.Value;
};

describe('egress Elastic IPs', () => {
  it('by default allocates one retained Elastic IP per availability zone and publishes it', () => {
    const { json } = synthesize({}, { nag: false });
    const eips = resourcesOfType(json, 'AWS::EC2::EIP');
    expect(eips).toHaveLength(AZ_COUNT);
    for (const [, eip] of eips) expect(eip.DeletionPolicy).toBe('Retain');
    const nats = resourcesOfType(json, 'AWS::EC2::NatGateway');
    expect(nats.map(([, nat]) => nat.Properties.AllocationId['Fn::GetAtt'][0]).sort()).toEqual(
      eips.map(([id]) => id).sort(),
    );
    expect(Object.values(outputs(json)).map((o: any) => o.Value.Ref)).toEqual(eips.map(([id]) => id));
  });

  it('reuses the given allocations: no new Elastic IP, NAT gateways on them, their addresses published', () => {
    const { json } = synthesize({ egressIpAllocations: KEPT }, { nag: false });
    expect(resourcesOfType(json, 'AWS::EC2::EIP')).toEqual([]);
    const nats = resourcesOfType(json, 'AWS::EC2::NatGateway').map(([, nat]) => nat.Properties.AllocationId);
    expect(nats.sort()).toEqual(KEPT.map((ip) => ip.allocationId).sort());
    expect(Object.values(outputs(json)).map((o: any) => o.Value)).toEqual(KEPT.map((ip) => ip.publicIp));
    expect(parameterValue(json)).toBe(KEPT.map((ip) => ip.publicIp).join(','));
  });

  it('takes the allocations as a JSON string from `-c`, and refuses anything it cannot use as given', () => {
    expect(config({ egressIpAllocations: JSON.stringify(KEPT) }).egressIpAllocations).toEqual(KEPT);
    expect(config({}).egressIpAllocations).toBeUndefined();
    const [first, second] = KEPT as [(typeof KEPT)[0], (typeof KEPT)[0]];
    for (const bad of [
      'not json',
      [],
      [{ allocationId: 'alloc-1', publicIp: first.publicIp }, second],
      [{ allocationId: first.allocationId, publicIp: '198.51.100.300' }, second],
      [{ allocationId: first.allocationId }, second],
      [first, { ...second, allocationId: first.allocationId }],
      [first, { ...second, publicIp: first.publicIp }],
    ]) {
      expect(() => config({ egressIpAllocations: bad }), JSON.stringify(bad)).toThrow(/egressIpAllocations/);
    }
    // One address per availability zone: fewer would leave a zone without its published address.
    expect(() => synthesize({ egressIpAllocations: [first] }, { nag: false })).toThrow(
      new RegExp(`exactly ${AZ_COUNT} Elastic IPs`),
    );
  });
});
