/**
 * The Virtuous simulator as an HTTP server on a loopback address: the API under `/api`, the control API under
 * `/_control`. It writes nothing to the console (request bodies carry donor data) and binds to loopback only.
 *
 *   const sim = await startVirtuousSimulator();
 *   const { apiKey, organizationId } = sim.control.createOrganization({ rateLimitPerHour: 1500 });
 *   // point the client at sim.baseUrl with allowLoopbackHttp
 *   await sim.control.nightlyBatch();
 *   await sim.close();
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SimResponse } from './api-routes.ts';
import { createSimulatorClock } from './clock.ts';
import { handleControl } from './control-routes.ts';
import { DEFAULT_DELIVERY_SETTINGS, type DeliverySettings } from './deliveries.ts';
import type { SignatureEncoding } from './signing.ts';
import { VirtuousSimulatorState } from './simulator.ts';

export interface VirtuousSimulatorOptions {
  /** Default 0 (any free port). */
  readonly port?: number;
  /** A loopback address; default 127.0.0.1. */
  readonly host?: string;
  /** Base clock (epoch ms) under the simulator's own advanceable clock; default real time. */
  readonly now?: () => number;
  readonly signatureHeader?: string;
  readonly signatureEncoding?: SignatureEncoding;
  readonly delivery?: Partial<Omit<DeliverySettings, 'signatureHeader' | 'signatureEncoding'>>;
  /** Largest gift batch accepted; Virtuous does not publish one, partners send 100. */
  readonly maxGiftBatch?: number;
  /** Render gift amounts as strings on read endpoints, as some Virtuous answers do. Default true. */
  readonly amountsAsStrings?: boolean;
  /** How long a timeout fault holds a connection before dropping it. Default 30 s. */
  readonly timeoutHoldMs?: number;
  readonly maxBodyBytes?: number;
}

export interface VirtuousSimulator {
  readonly baseUrl: string;
  /** The same state the HTTP control API drives, typed, in-process. */
  readonly control: VirtuousSimulatorState;
  close(): Promise<void>;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1']);

class BodyTooLarge extends Error {}

function readBody(request: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        reject(new BodyTooLarge());
        request.resume();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function send(response: ServerResponse, answer: SimResponse): void {
  const headers: Record<string, string> = { ...answer.headers };
  let payload: string | undefined;
  if (answer.json !== undefined) {
    payload = JSON.stringify(answer.json);
    headers['Content-Type'] = 'application/json; charset=utf-8';
  } else if (answer.text !== undefined) {
    payload = answer.text;
    headers['Content-Type'] = answer.contentType ?? 'text/plain; charset=utf-8';
  }
  if (payload !== undefined) headers['Content-Length'] = String(Buffer.byteLength(payload));
  else headers['Content-Length'] = '0';
  response.writeHead(answer.status, headers);
  response.end(payload);
}

function parseJson(raw: Buffer): { ok: true; value: unknown } | { ok: false } {
  if (raw.length === 0) return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(raw.toString('utf8')) };
  } catch {
    return { ok: false };
  }
}

export async function startVirtuousSimulator(options: VirtuousSimulatorOptions = {}): Promise<VirtuousSimulator> {
  const host = options.host ?? '127.0.0.1';
  if (!LOOPBACK_HOSTS.has(host)) throw new RangeError('the Virtuous simulator binds to a loopback address only');
  const maxBodyBytes = options.maxBodyBytes ?? 5 * 1024 * 1024;
  const holds = new Set<NodeJS.Timeout>();
  const state = new VirtuousSimulatorState({
    clock: createSimulatorClock(options.now),
    delivery: {
      ...DEFAULT_DELIVERY_SETTINGS,
      ...options.delivery,
      signatureHeader: options.signatureHeader ?? DEFAULT_DELIVERY_SETTINGS.signatureHeader,
      signatureEncoding: options.signatureEncoding ?? DEFAULT_DELIVERY_SETTINGS.signatureEncoding,
    },
    maxGiftBatch: options.maxGiftBatch ?? 100,
    amountsAsStrings: options.amountsAsStrings ?? true,
    timeoutHoldMs: options.timeoutHoldMs ?? 30_000,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://simulator.invalid');
    const method = request.method ?? 'GET';
    const segments = url.pathname
      .split('/')
      .filter((s) => s !== '')
      .map((s) => {
        try {
          return decodeURIComponent(s);
        } catch {
          return s;
        }
      });
    let raw: Buffer;
    try {
      raw = await readBody(request, maxBodyBytes);
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        send(response, {
          status: 413,
          json: { error: { code: 'PAYLOAD_TOO_LARGE', message: 'request body too large' } },
        });
        return;
      }
      throw error;
    }
    const parsed = parseJson(raw);
    if (segments[0] === '_control') {
      if (!parsed.ok)
        return send(response, { status: 400, json: { error: { code: 'INVALID_JSON', message: 'invalid JSON' } } });
      return send(response, await handleControl(state, method, segments, parsed.value));
    }
    if (!parsed.ok) {
      return send(response, {
        status: 400,
        json: { error: { code: 'INVALID_JSON', message: 'The request body is not valid JSON.' } },
      });
    }
    const answer = state.handleApi(request.headers.authorization, {
      method,
      segments,
      query: url.searchParams,
      body: parsed.value,
    });
    if (answer.hang === true) {
      const hold = setTimeout(() => {
        holds.delete(hold);
        response.socket?.destroy();
      }, state.timeoutHoldMs);
      hold.unref();
      holds.add(hold);
      return;
    }
    send(response, answer);
  }

  const server: Server = createServer((request, response) => {
    handle(request, response).catch(() => {
      // Never echo the failure (it may hold request data); a generic 500 is what a broken Virtuous answers.
      if (!response.headersSent) send(response, { status: 500, text: 'An error has occurred.' });
      else response.destroy();
    });
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    baseUrl: `http://${hostPart}:${address.port}`,
    control: state,
    close: () =>
      new Promise<void>((resolve) => {
        for (const hold of holds) clearTimeout(hold);
        holds.clear();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
