/**
 * The Stripe stand-in as an HTTP server on a loopback address: the Connect OAuth token endpoint (`POST /oauth/token`)
 * and the list endpoints the Stripe history load reads (`GET /v1/customers`, `GET /v1/payment_intents`). Its control
 * (register the platform's OAuth client, connect an account, deauthorize one) is the in-process handle; the runtime
 * offers it to the CLI through its operator routes. It writes nothing to the console and binds to loopback only.
 *
 *   const stripe = await startStripeSimulator();
 *   stripe.control.registerPlatformClient({ clientId, clientSecret });
 *   const { refreshToken } = stripe.control.connectAccount();
 *   // point the OAuth client at stripe.oauthTokenUrl and the history source at stripe.baseUrl (allowLoopbackHttp)
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeServer, listen } from '../net.ts';
import { type StripeAnswer, StripeSimulatorState, type StripeSimulatorStateOptions } from './state.ts';

export interface StripeSimulatorOptions extends StripeSimulatorStateOptions {
  /** Default 0 (any free port). */
  readonly port?: number;
  /** A loopback address; default 127.0.0.1. */
  readonly host?: string;
}

export interface StripeSimulator {
  /** Stand-in for both `https://api.stripe.com` and `https://connect.stripe.com`. */
  readonly baseUrl: string;
  readonly oauthTokenUrl: string;
  readonly control: StripeSimulatorState;
  close(): Promise<void>;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1']);
const MAX_FORM_BYTES = 16 * 1024;

function send(response: ServerResponse, answer: StripeAnswer): void {
  const payload = JSON.stringify(answer.json);
  response.writeHead(answer.status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(payload)),
    'cache-control': 'no-store',
  });
  response.end(payload);
}

async function readForm(request: IncomingMessage): Promise<URLSearchParams | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

export async function startStripeSimulator(options: StripeSimulatorOptions = {}): Promise<StripeSimulator> {
  const host = options.host ?? '127.0.0.1';
  if (!LOOPBACK_HOSTS.has(host)) throw new RangeError('the Stripe stand-in binds to a loopback address only');
  const state = new StripeSimulatorState(options);

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://stripe.invalid');
    const method = request.method ?? 'GET';
    const authorization = request.headers.authorization;
    if (url.pathname === '/oauth/token' && method === 'POST') {
      if (!(request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
        return send(response, { status: 400, json: { error: 'invalid_request', error_description: 'form expected' } });
      }
      const form = await readForm(request);
      if (form === undefined) {
        return send(response, { status: 413, json: { error: 'invalid_request', error_description: 'too large' } });
      }
      return send(response, state.token(form, authorization));
    }
    request.resume();
    const resource = /^\/v1\/([a-z_]+)$/.exec(url.pathname)?.[1];
    const answer =
      method === 'GET' && resource !== undefined ? state.list(resource, url.searchParams, authorization) : undefined;
    send(
      response,
      answer ?? {
        status: 404,
        json: { error: { type: 'invalid_request_error', message: 'Unrecognized request URL.' } },
      },
    );
  }

  const server: Server = createServer((request, response) => {
    handle(request, response).catch(() => {
      // Never echo the failure: it may hold a token from the request.
      if (!response.headersSent) send(response, { status: 500, json: { error: { type: 'api_error' } } });
      else response.destroy();
    });
  });
  server.keepAliveTimeout = 1_000;
  const port = await listen(server, host, options.port ?? 0, 'Stripe stand-in');
  const baseUrl = `http://${host === '::1' ? '[::1]' : host}:${port}`;
  return {
    baseUrl,
    oauthTokenUrl: `${baseUrl}/oauth/token`,
    control: state,
    close: () => closeServer(server, 1_000),
  };
}
