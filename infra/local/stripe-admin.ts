/**
 * The Stripe stand-in through the runtime's operator routes (`/local/stripe/...`), so the CLI reaches it at the
 * lifecycle API's address whatever port the stand-in got:
 *
 *   GET  /local/stripe/accounts                       → {accounts: [{accountId, deauthorized, customers, ...}]}
 *   POST /local/stripe/accounts                       → {accountId, refreshToken}  (a new connected account and its
 *                                                       grant's refresh token, answered once, for `connect-stripe`)
 *   POST /local/stripe/accounts/{accountId}/deauthorize → {deauthorized: true}  (its grant is revoked)
 *
 * Listings hold identifiers and counts only.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { json } from './http-json.ts';
import type { StripeSimulatorState } from './stripe-simulator/state.ts';

const ACCOUNT_ID = /^acct_[A-Za-z0-9]{1,64}$/;

export function routeStripe(
  stripe: StripeSimulatorState | undefined,
  request: { readonly method: string; readonly parts: readonly string[] },
): APIGatewayProxyResult {
  if (stripe === undefined) return json(409, { error: 'no_stripe_stand_in' });
  const { method, parts } = request;
  const [resource, accountId, action] = parts;
  if (resource === 'accounts' && parts.length === 1 && method === 'GET') {
    return json(200, { accounts: stripe.accountList() });
  }
  if (resource === 'accounts' && parts.length === 1 && method === 'POST') {
    return json(201, stripe.connectAccount());
  }
  if (resource === 'accounts' && action === 'deauthorize' && parts.length === 3 && method === 'POST') {
    if (accountId === undefined || !ACCOUNT_ID.test(accountId)) {
      return json(400, { error: 'INVALID_ACCOUNT_ID', message: 'account id must look like acct_…' });
    }
    if (!stripe.deauthorize(accountId)) return json(404, { error: 'account_not_found' });
    return json(200, { deauthorized: true });
  }
  return json(404, { error: 'route_not_found' });
}
