import { makeAwsHarness } from './aws-harness.ts';
import { describeSecretStoreContract } from './secret-store.contract.ts';

describeSecretStoreContract('Secrets Manager (stateful model, scoped sessions)', async () => makeAwsHarness());
