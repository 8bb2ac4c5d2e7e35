import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { createClient } from 'redis';
import { AUTH_SWITCH_OPTIONS, AuthSwitchOptions } from '../config/auth-switch.options';
import { StoreUnavailableError } from '../common/store-unavailable.error';

export type RedisClient = ReturnType<typeof createClient>;

const CONNECT_TIMEOUT_MS = 5000;

/**
 * The Redis connection when REDIS_URL is set. Commands fail at once while Redis is down
 * (no offline queue), so callers answer 503 instead of hanging.
 */
@Injectable()
export class RedisService implements OnApplicationShutdown {
  private readonly logger = new Logger('Redis');
  private readonly clients: RedisClient[] = [];
  private mainClient: RedisClient | null = null;

  constructor(@Inject(AUTH_SWITCH_OPTIONS) private readonly config: AuthSwitchOptions) {}

  get enabled(): boolean {
    return this.config.redis !== null;
  }

  get keyPrefix(): string {
    return this.config.redis?.keyPrefix ?? '';
  }

  /** Connects the shared command client (once); start-up fails if Redis cannot be reached. */
  async client(): Promise<RedisClient> {
    if (!this.mainClient) this.mainClient = await this.connect('commands');
    return this.mainClient;
  }

  /** A dedicated connection, e.g. for pub/sub. */
  async connect(purpose: string): Promise<RedisClient> {
    if (!this.config.redis) throw new Error('REDIS_URL is not set');
    let warned = false;
    const client = createClient({
      url: this.config.redis.url,
      disableOfflineQueue: true,
      socket: {
        connectTimeout: 2000,
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000),
      },
    });
    client.on('error', (error: Error) => {
      if (!warned) this.logger.warn(`${purpose} connection: ${error.message}`);
      warned = true;
    });
    client.on('ready', () => {
      if (warned) this.logger.log(`${purpose} connection restored`);
      warned = false;
    });
    this.clients.push(client);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.connect(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
        }),
      ]);
    } catch (error) {
      client.destroy();
      throw new StoreUnavailableError('redis', error);
    } finally {
      clearTimeout(timer);
    }
    return client;
  }

  async ping(): Promise<void> {
    const client = await this.client();
    await client.ping();
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(
      this.clients.map(async (client) => {
        try {
          if (client.isOpen) await client.close();
        } catch {
          client.destroy();
        }
      }),
    );
  }
}
