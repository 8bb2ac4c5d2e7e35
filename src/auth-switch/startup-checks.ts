import { Inject, Injectable, Logger, OnApplicationBootstrap, Optional } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { AUTH_SWITCH_OPTIONS, AuthSwitchOptions } from '../config/auth-switch.options';

/**
 * Warnings about a deployment that starts but will not work as its operators expect. They run
 * in every host of the module (not only in this repository's server), once the host has set
 * up its HTTP adapter (trust proxy) and before it listens.
 */
@Injectable()
export class StartupChecks implements OnApplicationBootstrap {
  private readonly logger = new Logger('AuthSwitch');

  constructor(
    @Inject(AUTH_SWITCH_OPTIONS) private readonly options: AuthSwitchOptions,
    @Optional() private readonly adapterHost?: HttpAdapterHost,
  ) {}

  onApplicationBootstrap(): void {
    if (this.options.production && !this.options.publicUrl) {
      this.logger.warn(
        'publicUrl (PUBLIC_URL for the server) is not set: mailed links and the origin page forms must come from ' +
          'are taken from the address this process listens on, which behind a proxy is not the one browsers use.',
      );
    }
    const http = this.adapterHost?.httpAdapter?.getInstance?.() as { get?: (setting: string) => unknown } | undefined;
    // An application context (the operator CLI) has no HTTP server: nothing to warn about.
    if (typeof http?.get !== 'function') return;
    const trustProxy = http.get('trust proxy');
    // Express sets `secure` cookies only on requests it believes arrived over TLS. Without a
    // trusted TLS proxy the session cookie is never set (or never sent back over plain HTTP):
    // logins answer 200 but no session sticks.
    if (this.options.session.secureCookie && (trustProxy === false || trustProxy === 0 || trustProxy === undefined)) {
      this.logger.warn(
        'Session cookies are Secure but no proxy is trusted: browsers reaching this server over plain HTTP ' +
          'will not get the session cookie back, so logins seem to succeed but no session sticks. ' +
          "Serve over HTTPS through a TLS proxy and trust it (TRUST_PROXY for the server, app.set('trust proxy', ...) in a host), " +
          'or turn Secure cookies off for local HTTP only (COOKIE_SECURE=false, session.secureCookie: false).',
      );
    }
  }
}
