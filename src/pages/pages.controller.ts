import { Controller, Get, Header, HttpCode, Inject, NotFoundException, Req, Res } from '@nestjs/common';
import type { Response } from 'express';
import type { AuthenticatedRequest } from '../common/authenticated-request';
import { SessionAuthenticator } from '../auth/authenticators';
import { Public } from '../auth/decorators';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { SessionService } from '../sessions/session.service';
import { accountPage, loginPage, PAGES_SCRIPT, registerPage } from './templates';

/**
 * Minimal browser pages on the session of the `web` group (or the first session group when
 * `web` uses another strategy). Without any session group there are no pages.
 */
@Controller()
@Public()
export class PagesController {
  private readonly group: string | undefined;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly sessionAuth: SessionAuthenticator,
    private readonly sessions: SessionService,
  ) {
    const sessionGroups = [...config.routeGroups].filter(([, strategy]) => strategy === 'session').map(([name]) => name);
    this.group = sessionGroups.includes('web') ? 'web' : sessionGroups[0];
  }

  @Get('login')
  @Header('Content-Type', 'text/html; charset=utf-8')
  login(): string {
    return loginPage(this.pagesGroup());
  }

  @Get('register')
  @Header('Content-Type', 'text/html; charset=utf-8')
  register(): string {
    return registerPage(this.pagesGroup());
  }

  @Get('account')
  async account(@Req() req: AuthenticatedRequest, @Res() res: Response): Promise<void> {
    const group = this.pagesGroup();
    res.setHeader('Cache-Control', 'no-store');
    const user = await this.sessionAuth.current(req, res);
    if (!user) return res.redirect(302, '/login');
    const sessions = await this.sessions.listForUser(user.id, req.authSession?.id);
    res.type('html').send(accountPage(group, user, sessions, req.authSession?.csrfToken ?? ''));
  }

  @Get('assets/pages.js')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  @Header('Cache-Control', 'public, max-age=300')
  script(): string {
    return PAGES_SCRIPT;
  }

  /** Browsers ask for it on every page; an empty answer keeps their consoles clean. */
  @Get('favicon.ico')
  @HttpCode(204)
  @Header('Cache-Control', 'public, max-age=86400')
  favicon(): void {}

  private pagesGroup(): string {
    if (!this.group) throw new NotFoundException('No route group uses sessions, so there are no pages');
    return this.group;
  }
}
