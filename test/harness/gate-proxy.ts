// A TCP proxy in front of an etcd member that can hold a large transfer halfway:
// once a connection has carried `holdAfterBytes` from the member to the client
// (only a snapshot stream is that large), further bytes wait until open() is
// called. A test can then change the world in the middle of a snapshot (fill the
// disk it is written to) without depending on timing.
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

export class GateProxy {
  private gateOpen = false;
  private readonly held: Socket[] = [];
  private readonly sockets = new Set<Socket>();
  private reachedResolve: () => void = () => undefined;
  /** Resolves when a connection first reaches the threshold and is held. */
  readonly reached = new Promise<void>((resolve) => (this.reachedResolve = resolve));

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  /**
   * @param cut instead of holding the transfer, cut its connection (as a network
   *   fault would), while `cut.remaining` (shared between proxies) is above 0.
   */
  static async start(
    upstream: string,
    holdAfterBytes: number,
    cut?: { remaining: number },
  ): Promise<GateProxy> {
    const target = new URL(upstream);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const proxy = new GateProxy(server, `${target.protocol}//127.0.0.1:${port}`);
    server.on('connection', (client) => proxy.pipe(client, target, holdAfterBytes, cut));
    return proxy;
  }

  private pipe(
    client: Socket,
    target: URL,
    holdAfterBytes: number,
    cut: { remaining: number } | undefined,
  ): void {
    const member = connect(Number(target.port), target.hostname);
    for (const socket of [client, member]) {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => (socket === client ? member : client).destroy());
    }
    let carried = 0;
    member.on('data', (chunk: Buffer) => {
      carried += chunk.length;
      if (cut && cut.remaining > 0 && carried >= holdAfterBytes) {
        cut.remaining--;
        this.reachedResolve();
        client.destroy();
        member.destroy();
        return;
      }
      client.write(chunk);
      if (!cut && !this.gateOpen && carried >= holdAfterBytes && !this.held.includes(member)) {
        member.pause();
        this.held.push(member);
        this.reachedResolve();
      }
    });
    client.on('data', (chunk: Buffer) => member.write(chunk));
    client.on('end', () => member.end());
    member.on('end', () => client.end());
  }

  /** Lets every held transfer go on, and never holds again. */
  open(): void {
    this.gateOpen = true;
    for (const socket of this.held.splice(0)) socket.resume();
  }

  async stop(): Promise<void> {
    this.open();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
