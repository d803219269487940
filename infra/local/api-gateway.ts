/**
 * The API Gateway stand-in: a node:http server that turns each request into the REST API proxy event the Lambda
 * handlers receive on AWS (raw body preserved byte for byte, Base64-encoded with `isBase64Encoded: true` as the
 * binary media type configuration does; headers with their original case; path parameters; a request context with a
 * request id), calls the handler, and writes its proxy result back.
 *
 * Like the deployed gateway it refuses bodies above its own payload limit (413) before the handler runs, and answers
 * 404/405 for routes it does not know, without echoing the request.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { closeServer, listen } from './net.ts';

/** API Gateway REST's own payload limit. */
const GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024;
/** Bound on how long one request may take end to end (API Gateway's integration timeout is 29 s). */
const INTEGRATION_TIMEOUT_MS = 29_000;

export type ProxyHandler = (
  event: APIGatewayProxyEvent,
  context: Context,
) => Promise<APIGatewayProxyResult | undefined>;

export interface Route {
  readonly method: string | 'ANY';
  /** Resource path as in API Gateway, e.g. `/webhooks/virtuous/{customerId}` or `/lifecycle/{proxy+}`. */
  readonly resource: string;
  readonly handler: ProxyHandler;
  /** Name of the function, for the Lambda context. */
  readonly functionName: string;
}

interface CompiledRoute extends Route {
  readonly pattern: RegExp;
  readonly parameterNames: readonly string[];
}

function compile(route: Route): CompiledRoute {
  const parameterNames: string[] = [];
  const source = route.resource
    .split('/')
    .map((segment) => {
      const greedy = /^\{(\w+)\+\}$/.exec(segment);
      if (greedy) {
        parameterNames.push(greedy[1] as string);
        return '(.+)';
      }
      const single = /^\{(\w+)\}$/.exec(segment);
      if (single) {
        parameterNames.push(single[1] as string);
        return '([^/]+)';
      }
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return { ...route, pattern: new RegExp(`^${source}$`), parameterNames };
}

export function lambdaContext(functionName: string, requestId: string): Context {
  const deadline = Date.now() + INTEGRATION_TIMEOUT_MS;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

function headerMaps(request: IncomingMessage) {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  const raw = request.rawHeaders;
  for (let index = 0; index + 1 < raw.length; index += 2) {
    const name = raw[index] as string;
    const value = raw[index + 1] as string;
    headers[name] = value;
    const values = multiValueHeaders[name] ?? [];
    values.push(value);
    multiValueHeaders[name] = values;
  }
  return { headers, multiValueHeaders };
}

function queryMaps(url: URL) {
  const single: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  for (const [name, value] of url.searchParams) {
    single[name] = value;
    const values = multi[name] ?? [];
    values.push(value);
    multi[name] = values;
  }
  return Object.keys(single).length === 0 ? { single: null, multi: null } : { single, multi };
}

export function toProxyEvent(input: {
  request: IncomingMessage;
  url: URL;
  body: Buffer;
  route: CompiledRoute;
  pathParameters: Record<string, string>;
  requestId: string;
}): APIGatewayProxyEvent {
  const { request, url, body, route, pathParameters, requestId } = input;
  const { headers, multiValueHeaders } = headerMaps(request);
  const query = queryMaps(url);
  const method = (request.method ?? 'GET').toUpperCase();
  return {
    resource: route.resource,
    path: url.pathname,
    httpMethod: method,
    headers,
    multiValueHeaders,
    queryStringParameters: query.single,
    multiValueQueryStringParameters: query.multi,
    pathParameters: Object.keys(pathParameters).length === 0 ? null : pathParameters,
    stageVariables: null,
    body: body.length === 0 ? null : body.toString('base64'),
    isBase64Encoded: body.length > 0,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: null,
      protocol: `HTTP/${request.httpVersion}`,
      httpMethod: method,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        user: null,
        userAgent: request.headers['user-agent'] ?? null,
        userArn: null,
      },
      path: `/local${url.pathname}`,
      stage: 'local',
      requestId,
      requestTimeEpoch: Date.now(),
      resourceId: 'local',
      resourcePath: route.resource,
    },
  };
}

function send(response: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (response.headersSent) return;
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(body);
}

function gatewayError(response: ServerResponse, status: number, message: string, requestId: string): void {
  send(response, status, JSON.stringify({ message }), { 'x-amzn-requestid': requestId });
}

function writeResult(response: ServerResponse, result: APIGatewayProxyResult, requestId: string): void {
  const headers: Record<string, string | string[]> = { 'x-amzn-requestid': requestId };
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
  for (const [name, values] of Object.entries(result.multiValueHeaders ?? {})) headers[name] = values.map(String);
  const body = result.isBase64Encoded
    ? Buffer.from(result.body ?? '', 'base64')
    : Buffer.from(result.body ?? '', 'utf8');
  response.writeHead(result.statusCode, headers);
  response.end(body);
}

/** Reads the body up to `limit` bytes; resolves undefined (and stops reading) when it is larger. */
function readBody(request: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      request.resume();
      resolve(undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    request.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.length;
      if (size > limit) {
        tooLarge = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

export interface GatewayServer {
  readonly url: string;
  readonly port: number;
  /** Requests being handled right now. */
  inFlight(): number;
  close(): Promise<void>;
}

export interface GatewayOptions {
  readonly host: string;
  readonly port: number;
  readonly name: string;
  readonly routes: readonly Route[];
  /** Called when a handler throws (an unhandled error is a 502 on AWS); receives no request data. */
  readonly onHandlerError?: (functionName: string, error: unknown) => void;
}

export async function startGateway(options: GatewayOptions): Promise<GatewayServer> {
  const routes = options.routes.map(compile);
  let active = 0;
  const server: Server = createServer(async (request, response) => {
    const requestId = randomUUID();
    active += 1;
    try {
      const url = new URL(request.url ?? '/', 'http://local');
      const method = (request.method ?? 'GET').toUpperCase();
      const matching = routes
        .map((route) => ({ route, match: route.pattern.exec(url.pathname) }))
        .filter((candidate) => candidate.match !== null);
      if (matching.length === 0) {
        request.resume();
        gatewayError(response, 404, 'Not Found', requestId);
        return;
      }
      const chosen = matching.find(({ route }) => route.method === 'ANY' || route.method === method);
      if (!chosen) {
        request.resume();
        gatewayError(response, 405, 'Method Not Allowed', requestId);
        return;
      }
      const body = await readBody(request, GATEWAY_MAX_BODY_BYTES);
      if (body === undefined) {
        gatewayError(response, 413, 'Request Too Long', requestId);
        return;
      }
      const pathParameters: Record<string, string> = {};
      chosen.route.parameterNames.forEach((name, index) => {
        const value = chosen.match?.[index + 1];
        if (value !== undefined) pathParameters[name] = decodeURIComponent(value);
      });
      const event = toProxyEvent({ request, url, body, route: chosen.route, pathParameters, requestId });
      const context = lambdaContext(chosen.route.functionName, requestId);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), INTEGRATION_TIMEOUT_MS);
      });
      try {
        const result = await Promise.race([chosen.route.handler(event, context), timeout]);
        if (result === 'timeout') {
          gatewayError(response, 504, 'Endpoint request timed out', requestId);
        } else if (result === undefined || typeof result.statusCode !== 'number') {
          gatewayError(response, 502, 'Internal server error', requestId);
        } else {
          writeResult(response, result, requestId);
        }
      } finally {
        clearTimeout(timer);
      }
    } catch (error) {
      options.onHandlerError?.(options.name, error);
      gatewayError(response, 502, 'Internal server error', requestId);
    } finally {
      active -= 1;
    }
  });
  server.requestTimeout = INTEGRATION_TIMEOUT_MS + 1_000;
  const port = await listen(server, options.host, options.port, options.name);
  return {
    url: `http://${options.host}:${port}`,
    port,
    inFlight: () => active,
    close: () => closeServer(server, INTEGRATION_TIMEOUT_MS),
  };
}
