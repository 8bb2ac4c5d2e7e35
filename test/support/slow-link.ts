import { createConnection, createServer, Server, Socket } from 'node:net';

/**
 * A real TCP link with latency: forwards connections to `target`, holding every chunk that
 * comes back from the server for `delayMs` (in order). It stands for a congested network or a
 * busy instance, where a message is on its way while other traffic overtakes it.
 */
export class SlowLink {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(
    private readonly target: { host: string; port: number },
    private readonly delayMs: number,
  ) {}

  async start(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = createConnection(this.target);
      this.sockets.add(client).add(upstream);
      client.pipe(upstream);
      let chain = Promise.resolve();
      upstream.on('data', (chunk: Buffer) => {
        const due = Date.now() + this.delayMs;
        chain = chain.then(
          () =>
            new Promise<void>((resolve) =>
              setTimeout(
                () => {
                  if (!client.destroyed) client.write(chunk);
                  resolve();
                },
                Math.max(0, due - Date.now()),
              ),
            ),
        );
      });
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('close', close).on('error', close);
      upstream.on('close', () => void chain.then(close)).on('error', close);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    this.sockets.forEach((socket) => socket.destroy());
    await new Promise((resolve) => this.server?.close(resolve) ?? resolve(undefined));
  }
}
