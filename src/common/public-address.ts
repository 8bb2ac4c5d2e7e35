import { Inject, Injectable, Optional } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { AUTH_SWITCH_OPTIONS, AuthSwitchOptions } from '../config/auth-switch.options';

/**
 * Where browsers reach this application: mailed links start with it, the pages accept form
 * posts only from its origin, and client assertions name it as their audience.
 *
 * The `publicUrl` option when set (it must be, behind a proxy or TLS terminator). Otherwise the
 * address the host's HTTP server is listening on, read when first needed: a host on port 8080
 * mails links to port 8080 without configuring anything. Never the request's Host header, which
 * a client chooses.
 */
@Injectable()
export class PublicAddress {
  constructor(
    @Inject(AUTH_SWITCH_OPTIONS) private readonly options: AuthSwitchOptions,
    @Optional() private readonly adapterHost?: HttpAdapterHost,
  ) {}

  /** The base URL, without a trailing slash. */
  get url(): string {
    return this.options.publicUrl ?? this.listeningUrl() ?? FALLBACK_URL;
  }

  /** The scheme, host and port of `url`, as browsers send it in `Origin`. */
  get origin(): string {
    return new URL(this.url).origin;
  }

  private listeningUrl(): string | null {
    const server = this.adapterHost?.httpAdapter?.getHttpServer?.() as { address?: () => AddressInfo | string | null } | undefined;
    const address = server?.address?.();
    if (!address || typeof address === 'string') return null;
    // A wildcard address is not one a browser can use; the machine itself can.
    const host = address.address === '0.0.0.0' || address.address === '::' ? 'localhost' : address.address;
    return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  }
}

/** Before the server listens (an operator command, a mail queued at start-up). */
const FALLBACK_URL = 'http://localhost:3000';
