// The API port's listener, which the `down` fault really closes.
//
// Going down closes the listening socket (new connections get ECONNREFUSED)
// AND destroys every open socket, keep-alive ones included, so clients see
// the outage at once. Coming back up listens again on the SAME host:port (the
// port first bound, also when it was chosen by the OS through port 0).
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export class ApiListener {
  readonly server: Server;
  readonly host: string;
  private readonly sockets = new Set<Socket>();
  private boundPort = 0;
  private up = false;
  private closed = false;

  constructor(server: Server, host: string) {
    this.server = server;
    this.host = host;
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  get port(): number {
    return this.boundPort;
  }

  get isUp(): boolean {
    return this.up;
  }

  /** Listens on `port` (0 = any free port the first time; the bound port is kept). */
  async listen(port: number = this.boundPort): Promise<void> {
    if (this.up || this.closed) return;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      this.server.once('error', onError);
      this.server.listen({ port, host: this.host }, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    const address = this.server.address();
    if (address !== null && typeof address === 'object') this.boundPort = address.port;
    this.up = true;
  }

  /**
   * Stops accepting connections and destroys the open ones, except `spare`
   * (the socket of the request that asked for the outage), which is destroyed
   * once its response has been written.
   */
  down(spare?: Socket): void {
    if (this.up) {
      this.up = false;
      this.server.close();
    }
    for (const socket of this.sockets) {
      if (socket !== spare) socket.destroy();
    }
  }

  /** Down for good: closes everything, spare included. */
  close(): void {
    this.closed = true;
    this.down();
  }
}
