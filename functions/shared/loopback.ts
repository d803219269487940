/**
 * Plain HTTP is allowed only to a loopback stand-in (simulator, test stub) and only when local mode says so: every
 * other endpoint that receives a token must be HTTPS.
 */
import { ForbiddenInputError } from './errors.ts';

const LOOPBACK_HOSTS = new Set(['localhost', '[::1]', '::1']);

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/** Parses an endpoint that will receive credentials: HTTPS, or HTTP to loopback when allowed; no userinfo. */
export function assertSecureEndpoint(value: string, what: string, allowLoopbackHttp: boolean): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ForbiddenInputError('INVALID_ENDPOINT', `the ${what} is not a valid URL`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new ForbiddenInputError('INVALID_ENDPOINT', `the ${what} must not carry credentials`);
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && allowLoopbackHttp && isLoopbackHost(url.hostname)) return url;
  throw new ForbiddenInputError(
    'INSECURE_ENDPOINT',
    `the ${what} must use https (plain http only to loopback in local mode)`,
  );
}
