/**
 * The Virtuous simulator for tests: started on 127.0.0.1 port 0, every API key it hands out registered with the
 * leak check, plus a loopback webhook receiver that keeps the raw bytes and headers of each delivery.
 *
 *   const sim = await startTestSimulator();                 // beforeAll
 *   const org = sim.organization({ rateLimitPerHour: 100 }); // { organizationId, apiKey } (apiKey registered)
 *   sim.baseUrl / sim.control.nightlyBatch() / sim.control.inspect(org.organizationId)
 *   await sim.close();                                       // afterAll
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  startVirtuousSimulator,
  type VirtuousSimulator,
  type VirtuousSimulatorOptions,
} from '../../infra/local/virtuous-simulator/server.ts';
import type { CreateOrganizationInput } from '../../infra/local/virtuous-simulator/simulator.ts';
import { registerSecret } from './canaries.ts';

export interface TestSimulator extends VirtuousSimulator {
  /** Creates an organization; its API key is registered as a secret for the output leak check. */
  organization(input?: CreateOrganizationInput): { organizationId: number; apiKey: string };
  /** Adds a key to an organization (registered as a secret too). */
  addKey(organizationId: number): string;
}

export async function startTestSimulator(options: VirtuousSimulatorOptions = {}): Promise<TestSimulator> {
  const simulator = await startVirtuousSimulator({ host: '127.0.0.1', port: 0, ...options });
  return {
    ...simulator,
    organization(input = {}) {
      const created = simulator.control.createOrganization(input);
      registerSecret(created.apiKey);
      return created;
    },
    addKey(organizationId) {
      return registerSecret(simulator.control.addApiKey(organizationId));
    },
  };
}

export interface ReceivedDelivery {
  readonly headers: IncomingMessage['headers'];
  readonly rawBody: Buffer;
}

export interface WebhookReceiver {
  readonly url: string;
  readonly received: ReceivedDelivery[];
  /** Status to answer with for the next requests, in order; afterwards 200. */
  respondWith(statuses: readonly number[]): void;
  close(): Promise<void>;
}

export async function startWebhookReceiver(path = '/webhooks/virtuous'): Promise<WebhookReceiver> {
  const received: ReceivedDelivery[] = [];
  let queued: number[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, rawBody: Buffer.concat(chunks) });
      const status = queued.shift() ?? 200;
      response.writeHead(status, { 'Content-Length': '0' });
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    received,
    respondWith(statuses) {
      queued = [...statuses];
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
