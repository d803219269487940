/**
 * Runs the Virtuous simulator on its own for development: `npx tsx infra/local/virtuous-simulator/main.ts [port]`.
 * Create organizations and keys through the control API (POST /_control/organizations); the keys are never printed.
 */
import { startVirtuousSimulator } from './server.ts';

const port = Number(process.argv[2] ?? '0');
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error('usage: main.ts [port]');
  process.exit(2);
}
const simulator = await startVirtuousSimulator({ port });
console.log(`Virtuous simulator listening on ${simulator.baseUrl} (control API under /_control)`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void simulator.close().then(() => process.exit(0));
  });
}
