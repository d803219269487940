/** Small helpers for the loopback servers of the one-machine runtime. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ForbiddenInputError } from '../../functions/shared/errors.ts';

/** Listens and resolves the bound port; a port in use is a setting problem the user can fix, named as such. */
export function listen(server: Server, host: string, port: number, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (error.code === 'EADDRINUSE' || error.code === 'EACCES') {
        reject(
          new ForbiddenInputError(
            'PORT_UNAVAILABLE',
            `${what}: port ${port} on ${host} is not available (${error.code})`,
          ),
        );
      } else {
        reject(error);
      }
    };
    const onListening = () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** Stops accepting, waits for in-flight requests for up to `graceMs`, then drops what is left. */
export function closeServer(server: Server, graceMs = 2_000): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}
