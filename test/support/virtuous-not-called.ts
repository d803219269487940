/**
 * The lifecycle API's Virtuous connector for tests of routes that never call Virtuous (operator routes, source
 * credentials): any call fails the test.
 */
import type { LifecycleApiDeps } from '../../functions/lifecycle-api/lifecycle-api.ts';

export const VIRTUOUS_NOT_CALLED: LifecycleApiDeps['virtuous'] = {
  forCustomer: () => {
    throw new Error('not used');
  },
  forToken: () => {
    throw new Error('not used');
  },
};
