import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { SessionsModule } from '../sessions/sessions.module';
import { PagesController } from './pages.controller';

@Module({ imports: [AuthModule, SessionsModule], controllers: [PagesController] })
export class PagesModule {}
