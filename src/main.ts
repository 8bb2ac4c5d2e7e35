import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AddressInfo, Socket } from 'node:net';
import type { Server, ServerResponse } from 'node:http';
import type { Logger as PinoLogger } from 'pino';
import { AppModule } from './app.module';
import { configureApp } from './server/app.setup';
import { loggerLevels } from './server/logger-levels';
import { AppConfig } from './server/app-config';
import { ConfigError } from './config/config-error';
import { loadConfigFromEnvironment } from './server/config.module';
import { createJsonLogger, JsonNestLogger } from './server/logging';

/**
 * Where main.ts's own lines go: the listening line, start-up and shutdown failures. They are
 * written whatever LOG_LEVEL says (the listening line tells the port); with LOG_FORMAT=json as
 * JSON lines of the server's logger, else as plain lines as before.
 */
interface Announcer {
  info(message: string): void;
  error(message: string): void;
}

const plainLines: Announcer = { info: (message) => console.log(message), error: (message) => console.error(message) };

/** Until the configuration is read: a configuration error stays one plain line on stderr. */
let announce: Announcer = plainLines;

function jsonLines(logger: PinoLogger): Announcer {
  // A child at `info` whatever the root's level, so that these lines are never dropped.
  const child = logger.child({ context: 'AuthSwitch' }, { level: 'info' });
  return { info: (message) => child.info(message), error: (message) => child.error(message) };
}

async function bootstrap(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfigFromEnvironment();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`Configuration error: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  const jsonLogger = config.logFormat === 'json' ? createJsonLogger(config.logLevel) : undefined;
  if (jsonLogger) announce = jsonLines(jsonLogger);
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, jsonLogger), {
    bodyParser: false,
    // JSON: Nest's start-up lines wait for its logger to become the JSON one (LOG_LEVEL is the
    // pino logger's level then); text: Nest's ConsoleLogger at LOG_LEVEL, as before.
    ...(jsonLogger ? { bufferLogs: true } : { logger: loggerLevels(config.logLevel) }),
  });
  if (jsonLogger) app.useLogger(new JsonNestLogger(jsonLogger));
  configureApp(app);
  handleShutdownSignals(app);
  const server = (await app.listen(config.port, config.host)) as Server;
  // With PORT=0 the system picks the port: print the one actually bound (the bench reads it).
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const groups = [...config.routeGroups].map(([group, strategy]) => `${group}=${strategy}`).join(',');
  announce.info(
    `AuthSwitch listening on http://${host}:${port} (groups ${groups}; ` +
      `database ${config.database.type}; sessions in ${config.redis ? 'redis' : 'the database'})`,
  );
}

const SHUTDOWN_LIMIT_MS = 10_000;

/**
 * SIGTERM/SIGINT: stop accepting connections, let requests in flight finish, close the stores,
 * exit 0. Replaces Nest's enableShutdownHooks(), which re-sends the signal to the process once
 * closed, so that it dies by the signal instead of exiting 0.
 */
function handleShutdownSignals(app: NestExpressApplication): void {
  // Open connections, so that responses in flight at shutdown can be told to close theirs.
  // Tracked per connection, not per request: nothing is added to the request path.
  const connections = new Set<Socket>();
  (app.getHttpServer() as Server).on('connection', (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });
  let closing = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) {
      announce.error(`${signal} again: exiting without waiting for the shutdown to finish`);
      process.exit(1);
    }
    closing = true;
    const timer = setTimeout(() => {
      announce.error(`Shutdown after ${signal} took more than ${SHUTDOWN_LIMIT_MS / 1000} s; exiting anyway`);
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS);
    timer.unref();
    closeGracefully(app, connections).then(
      () => process.exit(0),
      (error: unknown) => {
        announce.error(`Shutdown failed: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

async function closeGracefully(app: NestExpressApplication, connections: Set<Socket>): Promise<void> {
  const server = app.getHttpServer() as Server;
  // Stop listening at once; app.close() would first run the modules' destroy hooks. What is
  // still answered gets `Connection: close`, so that a client (or a load balancer) does not
  // send its next request on a connection we are about to drop: requests already in flight
  // and those arriving on kept-alive connections before they are closed.
  server.prependListener('request', (_req, res: ServerResponse) => res.setHeader('Connection', 'close'));
  for (const socket of connections) {
    // `_httpMessage` is the response under way on that socket: Node's own field, which its
    // default clientError handler reads as well. There is no public way to reach it.
    const res = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
    if (res && !res.headersSent) res.setHeader('Connection', 'close');
  }
  const drained = new Promise<void>((resolve) => server.close(() => resolve()));
  // server.close() drops only the connections idle at that moment. One whose response had
  // already started keeps alive after it; drop those as they fall idle, rather than waiting
  // for the keep-alive timeout.
  const sweeper = setInterval(() => server.closeIdleConnections(), 50);
  try {
    await drained;
  } finally {
    clearInterval(sweeper);
  }
  // Then Nest's shutdown hooks close Redis and the database connections.
  await app.close();
}

bootstrap().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  // Some settings can only be checked once the modules are up (a strategy name of
  // AUTH_ROUTE_GROUPS must be registered by then); they fail in the same one-line form.
  announce.error(error instanceof ConfigError ? `Configuration error: ${message}` : `Start-up failed: ${message}`);
  process.exit(1);
});
