import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { SessionsModule } from '../sessions/sessions.module';
import { UsersModule } from '../users/users.module';
import { PagesController } from './pages.controller';

@Module({ imports: [AuthModule, SessionsModule, UsersModule], controllers: [PagesController] })
export class PagesModule {}
