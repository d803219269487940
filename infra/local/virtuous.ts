/**
 * The Virtuous the local runtime talks to by default: the simulator (infra/local/virtuous-simulator), on loopback.
 * Its state (organizations, API keys, held transactions) lives in memory; a runtime that starts its own simulator
 * with a data folder saves that state to `<dataDir>/virtuous-simulator.json` and loads it at the next start
 * (simulator-snapshot-file.ts). Tests and the demo can instead hand the runtime a simulator they own, which the
 * runtime neither loads nor saves.
 */
import { startVirtuousSimulator, type VirtuousSimulator } from './virtuous-simulator/server.ts';

export type SimulatorHandle = VirtuousSimulator;

export function startSimulator(options: { host: string; port: number }): Promise<SimulatorHandle> {
  return startVirtuousSimulator({ host: options.host, port: options.port });
}
