/**
 * The Virtuous the local runtime talks to by default: the simulator (infra/local/virtuous-simulator), on loopback.
 * Its state (organizations, API keys, held transactions) lives in memory: a runtime that starts its own simulator
 * starts with an empty one. Tests and the demo can hand the runtime a simulator they own, so its state (and the
 * transaction counts a test asserts on) survives a runtime restart.
 */
import { startVirtuousSimulator, type VirtuousSimulator } from './virtuous-simulator/server.ts';

export type SimulatorHandle = VirtuousSimulator;

export function startSimulator(options: { host: string; port: number }): Promise<SimulatorHandle> {
  return startVirtuousSimulator({ host: options.host, port: options.port });
}
