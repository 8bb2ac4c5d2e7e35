import { Inject, Injectable, Optional } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
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

  /**
   * Whether a browser's `Origin` is this application's own. With `publicUrl`, only its origin.
   * Without it, http on the listening port under any name of this machine that reaches it: the
   * loopback names (localhost, 127.0.0.1, [::1]) and, when bound to every interface, the
   * addresses of the machine's interfaces. Never a name a client chose (the Host header).
   */
  isOwnOrigin(origin: string): boolean {
    if (this.options.publicUrl) return origin === this.origin;
    const address = this.boundAddress();
    if (!address) return origin === this.origin;
    let parsed: URL;
    try {
      parsed = new URL(origin);
    } catch {
      return false;
    }
    if (parsed.protocol !== 'http:' || parsed.origin !== origin || Number(parsed.port || 80) !== address.port) return false;
    const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
    return ownHostnames(address.address).has(host);
  }

  private boundAddress(): AddressInfo | null {
    const server = this.adapterHost?.httpAdapter?.getHttpServer?.() as { address?: () => AddressInfo | string | null } | undefined;
    const address = server?.address?.();
    return address && typeof address === 'object' ? address : null;
  }

  private listeningUrl(): string | null {
    const address = this.boundAddress();
    if (!address) return null;
    // A wildcard address is not one a browser can use; the machine itself can.
    const host = address.address === '0.0.0.0' || address.address === '::' ? 'localhost' : address.address;
    return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  }
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];
const WILDCARDS = new Set(['0.0.0.0', '::']);

/** The host names under which browsers on this machine (or, bound to every interface, the network) reach it. */
function ownHostnames(bound: string): Set<string> {
  const names = new Set(LOOPBACK_NAMES);
  if (!WILDCARDS.has(bound)) {
    names.add(bound);
    return names;
  }
  for (const addresses of Object.values(networkInterfaces())) for (const { address } of addresses ?? []) names.add(address);
  return names;
}

/** Before the server listens (an operator command, a mail queued at start-up). */
const FALLBACK_URL = 'http://localhost:3000';
