/** Proxy-result helpers for the runtime's own small HTTP handlers (local admin routes). */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { ForbiddenInputError } from '../../functions/shared/errors.ts';

const HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' } as const;

export function json(statusCode: number, body: unknown): APIGatewayProxyResult {
  return { statusCode, headers: { ...HEADERS }, body: JSON.stringify(body) };
}

/** The request body as JSON (API Gateway delivers it Base64 when binary media types apply). */
export function jsonBody(event: APIGatewayProxyEvent): Record<string, unknown> {
  if (event.body === null || event.body === '') return {};
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ForbiddenInputError('INVALID_JSON', 'request body is not JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ForbiddenInputError('INVALID_JSON', 'request body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}
